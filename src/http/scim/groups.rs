//! `/v2/{org_id}/Groups`: groups whose members are users of the same organization. Membership
//! requests become [`MemberEdit`]s on the join table, so a one-member change stays one
//! statement; member ids that are not users of the organization are ignored, never an error
//! (Okta treats 400 as permanent and would drop the whole push).

use serde_json::Value;

use super::resources::Endpoint;
use super::{Ctx, Rendered};
use crate::directory::{GroupChange, MemberEdit, StoredGroup};
use crate::scim::ScimError;
use crate::scim::etag::IfMatch;
use crate::scim::groups::{check_display_name, read_group, render, split_membership};
use crate::scim::list::{QueryParams, list_response};
use crate::scim::patch::PatchRequest;
use crate::scim::schema::{GROUP, ResourceType};

/// The Groups endpoint. `with_members: false` (the answer excludes `members`) never loads the
/// members.
pub struct Groups;

impl Endpoint for Groups {
    const TYPE: &'static ResourceType = &GROUP;

    /// Creates the group with the listed members (unknown ids ignored).
    fn create(ctx: &Ctx, body: &Value, with_members: bool) -> Result<Rendered, ScimError> {
        let (attrs, members) = read_group(body)?;
        let group = ctx.store.create_group(
            &ctx.org_id,
            &ctx.key_id,
            attrs,
            members.unwrap_or_default(),
            with_members,
        )?;
        Ok(rendered(ctx, &group))
    }

    fn get(ctx: &Ctx, id: &str, with_members: bool) -> Result<Rendered, ScimError> {
        Ok(rendered(
            ctx,
            &ctx.store.get_group(&ctx.org_id, id, with_members)?,
        ))
    }

    /// Replaces `displayName` and `externalId`; a `members` list, even empty, replaces the
    /// membership, and no `members` leaves it as it is.
    fn replace(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        with_members: bool,
    ) -> Result<Rendered, ScimError> {
        let (attrs, members) = read_group(body)?;
        let group =
            ctx.store
                .update_group(&ctx.org_id, id, &ctx.key_id, with_members, |current| {
                    if_match.check(current.version)?;
                    Ok::<_, ScimError>(GroupChange {
                        attrs,
                        members: members.map(MemberEdit::Replace).into_iter().collect(),
                    })
                })?;
        Ok(rendered(ctx, &group))
    }

    /// Every membership form identity providers send, and attribute operations, applied
    /// atomically.
    fn patch(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        with_members: bool,
    ) -> Result<Rendered, ScimError> {
        let request = PatchRequest::parse(body)?;
        let (attribute_ops, member_edits) = split_membership(&request)?;
        let group =
            ctx.store
                .update_group(&ctx.org_id, id, &ctx.key_id, with_members, |current| {
                    if_match.check(current.version)?;
                    let attrs = attribute_ops.apply(&GROUP, current.attrs.clone())?;
                    check_display_name(&attrs)?;
                    Ok::<_, ScimError>(GroupChange {
                        attrs,
                        members: member_edits,
                    })
                })?;
        Ok(rendered(ctx, &group))
    }

    /// The members stay members of the organization.
    fn delete(ctx: &Ctx, id: &str, if_match: &IfMatch) -> Result<(), ScimError> {
        ctx.store
            .delete_group(&ctx.org_id, id, &ctx.key_id, |current| {
                if_match.check(current.version)
            })
    }

    fn list(ctx: &Ctx, params: &QueryParams) -> Result<Value, ScimError> {
        let query = params.list_query()?;
        let projection = params.projection(&GROUP);
        let page = ctx
            .store
            .list_groups(&ctx.org_id, &query, !projection.omits("members"))?;
        let resources = page
            .items
            .iter()
            .map(|g| projection.apply(render(g, &ctx.base_url)))
            .collect();
        Ok(list_response(page.total, query.start_index, resources))
    }

    fn bounded_get(with_members: bool) -> bool {
        !with_members
    }

    /// `displayName` is indexed but not unique: a page of equally named groups is still
    /// bounded by its count, as long as no members are shown.
    fn bounded_list(params: &QueryParams) -> bool {
        params.projection(&GROUP).omits("members")
            && params.looks_up(&GROUP, &["displayName", "id", "externalId"])
    }
}

fn rendered(ctx: &Ctx, group: &StoredGroup) -> Rendered {
    Rendered {
        resource: render(group, &ctx.base_url),
        version: group.version,
    }
}
