//! Account lifecycle over HTTP (issue 15): a user changes their own password (the current one
//! required, the rules checked, their other sessions ended); an administrator resets one (a
//! one-time password that only serves to set a new one), disables an account (its sessions end
//! at once, sign-in refused in both languages) and enables it again; lockouts and unlocks,
//! changes and state changes are all in the audit chain.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::OfficeCode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn user(login: &str, role: Role) -> NewUserRequest {
    let officer = role == Role::Officer;
    NewUserRequest {
        login: login.into(),
        password: common::PASSWORD.into(),
        role,
        duties: if officer {
            vec![Duty::Reviewer]
        } else {
            vec![]
        },
        office: officer.then(|| OfficeCode::parse("2200").unwrap()),
        uscc: None,
        agency: None,
    }
}

async fn start() -> common::Harness {
    let t = common::Harness::start(|store, clock| Clearance::new(store, common::refdata(), clock))
        .await;
    t.bootstrap(user("root", Role::Admin));
    t.bootstrap(user("wu", Role::Officer));
    t.bootstrap(user("zhou", Role::Officer));
    t
}

async fn sign_in(t: &common::Harness, login: &str, password: &str) -> (StatusCode, Value) {
    t.call(
        Method::POST,
        None,
        "/api/session",
        Some(json!({"login": login, "password": password})),
    )
    .await
}

async fn change(
    t: &common::Harness,
    token: Option<&str>,
    login: &str,
    current: &str,
    new: &str,
) -> (StatusCode, Value) {
    t.call(
        Method::POST,
        token,
        "/api/password",
        Some(json!({"login": login, "current_password": current, "new_password": new})),
    )
    .await
}

/// Whether the token still signs its user in.
async fn live(t: &common::Harness, token: &str) -> bool {
    let (s, v) = t.get(token, "/api/session").await;
    assert_eq!(s, StatusCode::OK);
    !v.get("user").is_some_and(Value::is_null)
}

/// The audit chain's records of a subject, as `action detail`.
fn audited(t: &common::Harness, subject: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(t.store.path()).unwrap();
    let mut stmt = c
        .prepare("SELECT action, detail FROM audit_log WHERE subject = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([subject], |r| {
        Ok(format!(
            "{} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn user_id(t: &common::Harness, login: &str) -> i64 {
    use store::Store;
    t.store.account_by_login(login).unwrap().unwrap().user.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_changes_their_password_and_their_other_sessions_end() {
    let t = start().await;
    let here = t.login("wu").await;
    let elsewhere = t.login("wu").await;

    // The current password is required, the rules hold, the new one must differ.
    let (s, v) = change(&t, Some(&here), "wu", "not-the-password", "brand-new-pass").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = change(&t, Some(&here), "wu", common::PASSWORD, "short").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["field"], "new_password");
    assert_eq!(v["error"]["problems"][0]["code"], "password_length");
    let (s, v) = change(&t, Some(&here), "wu", common::PASSWORD, common::PASSWORD).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["code"], "password_unchanged");
    assert!(v["error"]["problems"][0]["message_zh"]
        .as_str()
        .unwrap()
        .contains("新密码"));
    assert!(
        live(&t, &here).await && live(&t, &elsewhere).await,
        "nothing changed yet"
    );

    let (s, v) = change(&t, Some(&here), "wu", common::PASSWORD, "brand-new-pass").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sessions_ended"], 1);
    assert!(
        live(&t, &here).await,
        "the session it was changed from stays"
    );
    assert!(!live(&t, &elsewhere).await, "every other session ended");
    assert_eq!(
        sign_in(&t, "wu", common::PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&t, "wu", "brand-new-pass").await.0,
        StatusCode::CREATED
    );
    // Someone else's session is not kept by changing another user's password with it.
    let zhou = t.login("zhou").await;
    let (s, _) = change(&t, Some(&zhou), "wu", "brand-new-pass", "another-new-pass").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        live(&t, &zhou).await,
        "zhou's own session is not wu's to end"
    );
    let uid = user_id(&t, "wu");
    assert_eq!(
        audited(&t, &format!("user:{uid}"))
            .into_iter()
            .filter(|a| a.starts_with("change_password"))
            .collect::<Vec<_>>(),
        [
            r#"change_password {"must_change":false,"sessions_ended":1}"#,
            r#"change_password {"must_change":false,"sessions_ended":2}"#,
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_disables_and_enables_and_every_step_is_audited() {
    let t = start().await;
    let root = t.login("root").await;
    let wu = t.login("wu").await;
    let zhou = t.login("zhou").await;

    // Only an administrator; unknown users are not found.
    let (s, _) = t
        .post(&zhou, "/api/users/wu/password-reset", json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post(&zhou, "/api/users/wu/disable", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/api/users/nobody/password-reset",
        "/api/users/nobody/disable",
    ] {
        assert_eq!(
            t.post(&root, path, json!({})).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert!(live(&t, &wu).await);

    // A reset: a one-time password, shown once; every session ends; it cannot sign in …
    let (s, v) = t
        .post(&root, "/api/users/wu/password-reset", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let once = v["one_time_password"].as_str().unwrap().to_owned();
    assert_eq!(once.len(), 16);
    assert_eq!(v["sessions_ended"], 1);
    assert!(!live(&t, &wu).await);
    let (s, v) = sign_in(&t, "wu", &once).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "password_change_required");
    assert!(v["error"]["message_zh"].as_str().unwrap().contains("重置"));
    // … it only serves to set a new password.
    let (s, v) = change(&t, None, "wu", &once, "wu-chose-this").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(sign_in(&t, "wu", &once).await.0, StatusCode::UNAUTHORIZED);
    let (s, v) = sign_in(&t, "wu", "wu-chose-this").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let wu = v["token"].as_str().unwrap().to_owned();

    // Disable: the session ends at once, sign-in is refused in both languages (only to whoever
    // knows the password: a wrong one is still just wrong).
    let (s, v) = t.post(&root, "/api/users/wu/disable", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sessions_ended"], 1);
    let (s, _) = t.get(&wu, "/api/declarations").await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a disabled user's session ends at once"
    );
    let (s, v) = sign_in(&t, "wu", "wu-chose-this").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "account_disabled");
    assert_eq!(v["error"]["message_zh"], "此账户已被停用，请联系管理员");
    assert_eq!(
        v["error"]["message_en"],
        "this account is disabled; ask an administrator"
    );
    assert_eq!(
        sign_in(&t, "wu", "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, v) = change(&t, None, "wu", "wu-chose-this", "wu-chose-again").await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("account_disabled"))
    );
    // An administrator cannot disable their own account.
    let (s, v) = t.post(&root, "/api/users/root/disable", json!({})).await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("own_account"))
    );

    let (s, _) = t.post(&root, "/api/users/wu/enable", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        sign_in(&t, "wu", "wu-chose-this").await.0,
        StatusCode::CREATED
    );

    // Six wrong sign-ins lock the login (five are free); the administrator unlocks it.
    for _ in 0..6 {
        sign_in(&t, "zhou", "wrong-password").await;
    }
    let (s, v) = t
        .call(Method::DELETE, Some(&root), "/api/sign-in-locks/zhou", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["was_locked"], true);

    let uid = user_id(&t, "wu");
    let actions: Vec<String> = audited(&t, &format!("user:{uid}"))
        .into_iter()
        .filter(|a| !a.starts_with("sign_in ") && !a.starts_with("create_account"))
        .collect();
    assert_eq!(
        actions,
        [
            r#"reset_password {"must_change":true,"sessions_ended":1}"#,
            r#"change_password {"must_change":false,"sessions_ended":0}"#,
            r#"disable_account {"sessions":1}"#,
            r#"enable_account {"sessions":0}"#,
        ]
    );
    let locks = audited(&t, "login:zhou");
    assert_eq!(
        locks,
        [
            r#"sign_in_locked {"failures":6,"lock_seconds":1}"#,
            r#"sign_in_unlocked {"was_locked":true}"#,
        ]
    );
    let (s, v) = t.get(&root, "/api/audit/verify").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["first_broken"].is_null(), "{v}");
}
