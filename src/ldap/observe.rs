//! How LDAP requests are named in the metrics: the operation a request asks for, and the
//! result code it got, spelled as RFC 4511 §4.1.9 spells it (`success`, `noSuchObject`, …), so
//! the label values are a small fixed set whatever clients send.

use ldap3_proto::proto::{LdapMsg, LdapOp, LdapResultCode};

use super::OID_WHOAMI;

/// The operation a request asks for; `None` for a message that is not a request.
pub fn operation(op: &LdapOp) -> Option<&'static str> {
    Some(match op {
        LdapOp::BindRequest(_) => "bind",
        LdapOp::UnbindRequest => "unbind",
        LdapOp::SearchRequest(_) => "search",
        LdapOp::ModifyRequest(_) => "modify",
        LdapOp::AddRequest(_) => "add",
        LdapOp::DelRequest(_) => "delete",
        LdapOp::ModifyDNRequest(_) => "moddn",
        LdapOp::CompareRequest(_) => "compare",
        LdapOp::AbandonRequest(_) => "abandon",
        LdapOp::ExtendedRequest(request) if request.name == OID_WHOAMI => "whoami",
        LdapOp::ExtendedRequest(_) => "extended",
        _ => return None,
    })
}

/// The result of a request from its replies: the code of the last one (a search's done, a
/// bind's response, a notice of disconnection); `success` for requests answered by nothing
/// (unbind, abandon).
pub fn result(replies: &[LdapMsg]) -> &'static str {
    let code = replies.last().and_then(|reply| match &reply.op {
        LdapOp::BindResponse(response) => Some(&response.res.code),
        LdapOp::ExtendedResponse(response) => Some(&response.res.code),
        LdapOp::SearchResultDone(res)
        | LdapOp::ModifyResponse(res)
        | LdapOp::AddResponse(res)
        | LdapOp::DelResponse(res)
        | LdapOp::ModifyDNResponse(res)
        | LdapOp::CompareResult(res) => Some(&res.code),
        _ => None,
    });
    code.map_or("success", code_name)
}

/// A result code's name as RFC 4511 (and RFC 4533 for the last) spells it.
pub fn code_name(code: &LdapResultCode) -> &'static str {
    match code {
        LdapResultCode::Success => "success",
        LdapResultCode::OperationsError => "operationsError",
        LdapResultCode::ProtocolError => "protocolError",
        LdapResultCode::TimeLimitExceeded => "timeLimitExceeded",
        LdapResultCode::SizeLimitExceeded => "sizeLimitExceeded",
        LdapResultCode::CompareFalse => "compareFalse",
        LdapResultCode::CompareTrue => "compareTrue",
        LdapResultCode::AuthMethodNotSupported => "authMethodNotSupported",
        LdapResultCode::StrongerAuthRequired => "strongerAuthRequired",
        LdapResultCode::Referral => "referral",
        LdapResultCode::AdminLimitExceeded => "adminLimitExceeded",
        LdapResultCode::UnavailableCriticalExtension => "unavailableCriticalExtension",
        LdapResultCode::ConfidentialityRequired => "confidentialityRequired",
        LdapResultCode::SaslBindInProgress => "saslBindInProgress",
        LdapResultCode::NoSuchAttribute => "noSuchAttribute",
        LdapResultCode::UndefinedAttributeType => "undefinedAttributeType",
        LdapResultCode::InappropriateMatching => "inappropriateMatching",
        LdapResultCode::ConstraintViolation => "constraintViolation",
        LdapResultCode::AttributeOrValueExists => "attributeOrValueExists",
        LdapResultCode::InvalidAttributeSyntax => "invalidAttributeSyntax",
        LdapResultCode::NoSuchObject => "noSuchObject",
        LdapResultCode::AliasProblem => "aliasProblem",
        LdapResultCode::InvalidDNSyntax => "invalidDNSyntax",
        LdapResultCode::AliasDereferencingProblem => "aliasDereferencingProblem",
        LdapResultCode::InappropriateAuthentication => "inappropriateAuthentication",
        LdapResultCode::InvalidCredentials => "invalidCredentials",
        LdapResultCode::InsufficentAccessRights => "insufficientAccessRights",
        LdapResultCode::Busy => "busy",
        LdapResultCode::Unavailable => "unavailable",
        LdapResultCode::UnwillingToPerform => "unwillingToPerform",
        LdapResultCode::LoopDetect => "loopDetect",
        LdapResultCode::NamingViolation => "namingViolation",
        LdapResultCode::ObjectClassViolation => "objectClassViolation",
        LdapResultCode::NotAllowedOnNonLeaf => "notAllowedOnNonLeaf",
        LdapResultCode::NotALlowedOnRDN => "notAllowedOnRDN",
        LdapResultCode::EntryAlreadyExists => "entryAlreadyExists",
        LdapResultCode::ObjectClassModsProhibited => "objectClassModsProhibited",
        LdapResultCode::AffectsMultipleDSAs => "affectsMultipleDSAs",
        LdapResultCode::Other => "other",
        LdapResultCode::EsyncRefreshRequired => "e-syncRefreshRequired",
    }
}

#[cfg(test)]
mod tests {
    use ldap3_proto::proto::{LdapBindResponse, LdapExtendedRequest, LdapResult};

    use super::*;

    fn done(code: LdapResultCode) -> LdapMsg {
        LdapMsg::new(
            1,
            LdapOp::SearchResultDone(LdapResult {
                code,
                matcheddn: String::new(),
                message: String::new(),
                referral: Vec::new(),
            }),
        )
    }

    #[test]
    fn whoami_is_told_apart_from_other_extended_operations() {
        let extended = |name: &str| {
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: name.to_owned(),
                value: None,
            })
        };
        assert_eq!(operation(&extended(OID_WHOAMI)), Some("whoami"));
        assert_eq!(
            operation(&extended("1.3.6.1.4.1.4203.1.11.1")),
            Some("extended")
        );
        assert_eq!(
            operation(&LdapOp::DelRequest(String::new())),
            Some("delete")
        );
        assert_eq!(
            operation(&done(LdapResultCode::Success).op),
            None,
            "a reply"
        );
    }

    #[test]
    fn the_result_is_the_last_replys_code_in_rfc_spelling() {
        let bind = LdapMsg::new(
            1,
            LdapOp::BindResponse(LdapBindResponse {
                res: LdapResult {
                    code: LdapResultCode::InvalidCredentials,
                    matcheddn: String::new(),
                    message: String::new(),
                    referral: Vec::new(),
                },
                saslcreds: None,
            }),
        );
        assert_eq!(result(&[bind]), "invalidCredentials");
        assert_eq!(
            result(&[done(LdapResultCode::SizeLimitExceeded)]),
            "sizeLimitExceeded"
        );
        assert_eq!(
            result(&[done(LdapResultCode::InsufficentAccessRights)]),
            "insufficientAccessRights"
        );
        assert_eq!(result(&[]), "success");
    }
}
