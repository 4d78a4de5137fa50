//! Helpers shared by the service tests (each test file that needs them says `mod common;`).

use app::Clearance;

/// A bank user in the store (created once) and its principal: notices are paid through it.
pub fn bank_user(svc: &Clearance) -> app::Principal {
    let login = "bank-test";
    if svc.store().user_by_login(login).unwrap().is_none() {
        svc.store()
            .put_user(
                store::NewUser {
                    login: login.into(),
                    role: store::Role::Bank,
                    office: None,
                    uscc: None,
                },
                &clearance::Actor::System {
                    component: "test".into(),
                },
                svc.now(),
            )
            .unwrap();
    }
    app::Principal::Agency {
        user_id: 0,
        login: login.into(),
        agency: "bank".into(),
    }
}

/// Pay a notice as it is paid: the declarant initiates, the bank confirms the amount due.
pub fn pay(svc: &Clearance, declarant: &app::Principal, notice_no: &str) -> clearance::Status {
    let bank = bank_user(svc);
    svc.payments()
        .initiate_and_confirm(declarant, &bank, notice_no, &format!("REF-{notice_no}"))
        .unwrap();
    let (d, _) = notice_no.split_once('-').unwrap();
    let no = domain::codes::DeclarationNo::parse(d).unwrap();
    svc.store()
        .load(store::DeclarationKey::DeclarationNo(no))
        .unwrap()
        .unwrap()
        .state
        .status
}
