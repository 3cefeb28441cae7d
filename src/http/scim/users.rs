//! `/v2/{org_id}/Users`: members of an organization, with Bitwarden's membership semantics:
//! `active: false` revokes, `active: true` restores, DELETE removes, and userName, externalId
//! and member email are unique per organization (the store's rules).

use serde_json::Value;

use super::Ctx;
use super::Rendered;
use super::resources::Endpoint;
use crate::directory::StoredUser;
use crate::scim::ScimError;
use crate::scim::etag::IfMatch;
use crate::scim::list::{QueryParams, list_response};
use crate::scim::patch::PatchRequest;
use crate::scim::schema::{ResourceType, USER};
use crate::scim::users::{check_user, read_user, render};

/// The Users endpoint.
pub struct Users;

impl Endpoint for Users {
    const TYPE: &'static ResourceType = &USER;

    /// A member is active unless the body says `active: false`.
    fn create(ctx: &Ctx, body: &Value, _: bool) -> Result<Rendered, ScimError> {
        let attrs = read_user(body)?;
        let user = ctx.store.create_user(&ctx.org_id, &ctx.key_id, attrs)?;
        Ok(rendered(ctx, &user))
    }

    fn get(ctx: &Ctx, id: &str, _: bool) -> Result<Rendered, ScimError> {
        Ok(rendered(ctx, &ctx.store.get_user(&ctx.org_id, id)?))
    }

    /// Read-only attributes (`id`, `meta`, `groups`) in the body are ignored (RFC 7644
    /// §3.5.1). A body without `active` leaves the member active.
    fn replace(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        _: bool,
    ) -> Result<Rendered, ScimError> {
        let attrs = read_user(body)?;
        let user = ctx
            .store
            .update_user(&ctx.org_id, id, &ctx.key_id, |current| {
                if_match.check(current.version)?;
                Ok::<_, ScimError>(attrs)
            })?;
        Ok(rendered(ctx, &user))
    }

    fn patch(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        _: bool,
    ) -> Result<Rendered, ScimError> {
        let request = PatchRequest::parse(body)?;
        let user = ctx
            .store
            .update_user(&ctx.org_id, id, &ctx.key_id, |current| {
                if_match.check(current.version)?;
                check_user(request.apply(&USER, current.attrs.clone())?)
            })?;
        Ok(rendered(ctx, &user))
    }

    /// Removes the member and its group memberships.
    fn delete(ctx: &Ctx, id: &str, if_match: &IfMatch) -> Result<(), ScimError> {
        ctx.store
            .delete_user(&ctx.org_id, id, &ctx.key_id, |current| {
                if_match.check(current.version)
            })
    }

    fn list(ctx: &Ctx, params: &QueryParams) -> Result<Value, ScimError> {
        let query = params.list_query()?;
        let page = ctx.store.list_users(&ctx.org_id, &query)?;
        let projection = params.projection(&USER);
        let resources = page
            .items
            .iter()
            .map(|u| projection.apply(render(u, &ctx.base_url)))
            .collect();
        Ok(list_response(page.total, query.start_index, resources))
    }

    fn bounded_get(_: bool) -> bool {
        true
    }

    fn bounded_list(params: &QueryParams) -> bool {
        params.looks_up(&USER, &["userName", "id", "externalId"])
    }
}

fn rendered(ctx: &Ctx, user: &StoredUser) -> Rendered {
    Rendered {
        resource: render(user, &ctx.base_url),
        version: user.version,
    }
}
