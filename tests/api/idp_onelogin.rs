//! OneLogin, replayed from `idp-quirks.md` §5: `+`-encoded filters with a trailing `&`,
//! `PUT …?`, legacy `urn:scim:schemas:core:2.0` URNs, `emails` as one object, an empty
//! User-Agent, and group membership by PATCH.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn onelogin_requests_work_as_sent() {
    let app = spawn_app().await;
    let org = app.create_org("OneLogin");
    let send = |method: Method, url: String, body: Option<Value>| {
        let mut request = app
            .client
            .request(method, url)
            .bearer_auth(&org.key)
            .header("User-Agent", "")
            .header("Content-Type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let base = &org.scim_url;
    let lookup = format!("{base}/Users?filter=userName+eq+%22onelogin-test-user01%22&");

    let (status, none) = send(Method::GET, lookup.clone(), None).await;
    assert_eq!((status, none["totalResults"].clone()), (200, json!(0)));
    let (status, user) = send(
        Method::POST,
        format!("{base}/Users"),
        Some(json!({"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],
            "userName":"onelogin-test-user01","name":{"givenName":"One","familyName":"Login"},
            "emails":{"value":"one@example.com","type":"work"},
            "urn:scim:schemas:extension:enterprise:2.0":{"department":"Sales"}})),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["emails"][0]["value"], "one@example.com");
    assert_eq!(
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Sales",
        "the legacy enterprise key is the enterprise extension"
    );
    let id = user["id"].as_str().unwrap();
    let (_, found) = send(Method::GET, lookup, None).await;
    assert_eq!(found["Resources"][0]["id"], id);
    // The member email came from the single emails object.
    let (_, by_email) = send(
        Method::GET,
        format!("{base}/Users?filter=emails.value+eq+%22ONE%40example.com%22"),
        None,
    )
    .await;
    assert_eq!(by_email["totalResults"], 1);

    let (status, updated) = send(
        Method::PUT,
        format!("{base}/Users/{id}?"),
        Some(
            json!({"schemas":["urn:scim:schemas:core:2.0"],"userName":"onelogin-test-user01",
            "name":{"givenName":"Uno","familyName":"Login"},
            "emails":{"value":"one@example.com"},"active":false}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (
            updated["name"]["givenName"].clone(),
            updated["active"].clone()
        ),
        (json!("Uno"), json!(false))
    );

    let (_, group) = send(
        Method::POST,
        format!("{base}/Groups"),
        Some(json!({"schemas":["urn:scim:schemas:core:2.0"],"displayName":"Role A"})),
    )
    .await;
    let (status, patched) = send(
        Method::PATCH,
        format!("{base}/Groups/{}", group["id"].as_str().unwrap()),
        Some(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"add","path":"members","value":[{"value":id}]}]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "a 405 here would break OneLogin's group sync");
    assert_eq!(patched["members"][0]["value"], id);
}
