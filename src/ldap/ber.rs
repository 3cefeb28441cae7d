//! What this server reads of a message's BER encoding itself, before (or beside) the protocol
//! crate's parser: element headers, to bound a message's size and nesting before it is parsed
//! ([`header`], [`nesting_within`]), and the criticality of its controls, which the parser
//! drops for controls it does not know ([`critical_controls`]).

/// A BER element's header (identifier and length octets), as far as it can be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Header {
    Incomplete,
    /// Indefinite lengths (not allowed in LDAP), lengths over 4 bytes, long tag numbers.
    Invalid,
    Element {
        /// The identifier octet (class, constructed bit and tag number when below 31).
        identifier: u8,
        /// Octets of the identifier and length.
        header: usize,
        /// Octets of the contents.
        length: usize,
    },
}

impl Header {
    fn constructed(identifier: u8) -> bool {
        identifier & 0x20 != 0
    }
}

/// Reads the header of the element `bytes` starts with.
pub fn header(bytes: &[u8]) -> Header {
    let Some(&identifier) = bytes.first() else {
        return Header::Incomplete;
    };
    let mut at = 1;
    if identifier & 0x1f == 0x1f {
        // A tag number in following bytes: LDAP's never need more than two.
        loop {
            let Some(&b) = bytes.get(at) else {
                return Header::Incomplete;
            };
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
            if at > 3 {
                return Header::Invalid;
            }
        }
    }
    let Some(&first) = bytes.get(at) else {
        return Header::Incomplete;
    };
    at += 1;
    let length = match first {
        0..=0x7f => usize::from(first),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let Some(octets) = bytes.get(at..at + n) else {
                return Header::Incomplete;
            };
            at += n;
            octets
                .iter()
                .fold(0usize, |l, b| (l << 8) | usize::from(*b))
        }
        _ => return Header::Invalid,
    };
    Header::Element {
        identifier,
        header: at,
        length,
    }
}

/// Whether the BER elements of a whole message nest at most `max_depth` deep and every header
/// in it can be read; walked without recursion. Other malformations are left to the parser.
pub fn nesting_within(message: &[u8], max_depth: usize) -> bool {
    let mut ends: Vec<usize> = Vec::new();
    let mut at = 0;
    while at < message.len() {
        while ends.last().is_some_and(|end| *end <= at) {
            ends.pop();
        }
        match header(message.get(at..).unwrap_or_default()) {
            Header::Element {
                identifier,
                header,
                length,
            } if Header::constructed(identifier) => {
                at += header;
                ends.push(at.saturating_add(length));
                if ends.len() > max_depth {
                    return false;
                }
            }
            Header::Element { header, length, .. } => at = at.saturating_add(header + length),
            Header::Incomplete | Header::Invalid => return false,
        }
    }
    true
}

/// The elements directly inside `contents`, each as its identifier and contents; stops at the
/// first that cannot be read.
fn children(contents: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = contents;
    std::iter::from_fn(move || {
        let Header::Element {
            identifier,
            header,
            length,
        } = header(rest)
        else {
            return None;
        };
        let inner = rest.get(header..header.checked_add(length)?)?;
        rest = rest.get(header + length..)?;
        Some((identifier, inner))
    })
}

/// The OIDs of the controls a whole LDAPMessage (RFC 4511 §4.1.1) marks critical:
/// `SEQUENCE { messageID, protocolOp, [0] Controls OPTIONAL }`, each control a
/// `SEQUENCE { controlType OCTET STRING, criticality BOOLEAN DEFAULT FALSE, … }`.
pub fn critical_controls(message: &[u8]) -> Vec<String> {
    let Some((0x30, envelope)) = children(message).next() else {
        return Vec::new();
    };
    let Some((_, controls)) = children(envelope).find(|(id, _)| *id == 0xa0) else {
        return Vec::new();
    };
    children(controls)
        .filter(|(id, _)| *id == 0x30)
        .filter_map(|(_, control)| {
            let mut fields = children(control);
            let (0x04, oid) = fields.next()? else {
                return None;
            };
            let critical = matches!(fields.next(), Some((0x01, [b])) if *b != 0);
            critical.then(|| String::from_utf8_lossy(oid).into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search request (message 2) with the given controls, as `(oid, critical)`.
    fn message(controls: &[(&str, Option<bool>)]) -> Vec<u8> {
        fn tlv(identifier: u8, contents: &[u8]) -> Vec<u8> {
            let mut out = vec![identifier];
            let length = u8::try_from(contents.len()).expect("short test elements");
            if length > 0x7f {
                out.extend([0x81, length]);
            } else {
                out.push(length);
            }
            out.extend_from_slice(contents);
            out
        }
        let mut body = tlv(0x02, &[2]);
        body.extend(tlv(0x63, &[0x04, 0x00]));
        if !controls.is_empty() {
            let mut list = Vec::new();
            for (oid, critical) in controls {
                let mut control = tlv(0x04, oid.as_bytes());
                if let Some(critical) = critical {
                    control.extend(tlv(0x01, &[if *critical { 0xff } else { 0 }]));
                }
                control.extend(tlv(0x04, b"value"));
                list.extend(tlv(0x30, &control));
            }
            body.extend(tlv(0xa0, &list));
        }
        tlv(0x30, &body)
    }

    #[test]
    fn critical_controls_are_found_and_others_are_not() {
        let msg = message(&[
            ("1.2.840.113556.1.4.319", Some(false)),
            ("1.2.840.113556.1.4.473", Some(true)),
            ("2.16.840.1.113730.3.4.2", None),
        ]);
        assert_eq!(critical_controls(&msg), ["1.2.840.113556.1.4.473"]);
        assert!(critical_controls(&message(&[])).is_empty());
    }

    #[test]
    fn truncated_or_garbled_messages_yield_nothing_and_never_panic() {
        let msg = message(&[("1.2.3", Some(true))]);
        for end in 0..msg.len() {
            let _ = critical_controls(&msg[..end]);
        }
        assert!(critical_controls(&[0xa0, 0x84, 0xff, 0xff, 0xff, 0xff]).is_empty());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut message: Vec<u8> = Vec::new();
        for _ in 0..100 {
            let [_, _, high, low] = u32::try_from(message.len()).unwrap_or(0).to_be_bytes();
            message.splice(0..0, [0x30, 0x82, high, low]);
        }
        assert!(!nesting_within(&message, 64));
        assert!(nesting_within(&[0x30, 0x03, 0x02, 0x01, 0x05], 64));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_read_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = critical_controls(&bytes);
            let _ = nesting_within(&bytes, 8);
        }
    }
}
