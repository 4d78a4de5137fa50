//! The contract of drafts and of the notifications read marker (`store::drafts`, issue 20):
//! a draft is seen, changed and deleted by its owner only (the user, and the enterprise the
//! user acts for), versions count saves and refuse a stale one, the bounds hold inside the
//! write, and a read marker only moves forward. Run on every backend by
//! [`crate::drafts_contract_tests`].

use chrono::Duration;
use store::drafts::{
    DraftOwner, DraftWrite, ReadMarkWrite, DRAFTS_PER_USER, DRAFT_MAX_BYTES, TITLE_MAX,
};
use store::*;

use crate::contract::{declarant, other_declarant, system, t0};

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait DraftsHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn user(store: &dyn Store, login: &str, role: Role, uscc: Option<domain::codes::Uscc>) -> i64 {
    store
        .put_user(
            NewUser {
                login: login.into(),
                role,
                office: None,
                uscc,
            },
            &system(),
            t0(),
        )
        .unwrap()
}

fn new_draft(owner: &DraftOwner, title: &str, body: &str, minutes: i64) -> DraftWrite {
    DraftWrite {
        owner: owner.clone(),
        id: None,
        expected_version: None,
        kind: "declaration".into(),
        title: title.into(),
        body: body.into(),
        now: t0() + Duration::minutes(minutes),
    }
}

/// Owners: only the user who saved a draft, acting for the same enterprise, sees or changes it.
pub fn drafts_belong_to_their_owner(h: &impl DraftsHarness) {
    let store = h.open();
    let s = store.as_ref();
    let a = user(s, "ent-a", Role::Enterprise, Some(declarant()));
    let a2 = user(s, "ent-a2", Role::Enterprise, Some(declarant()));
    let officer = user(s, "officer", Role::Officer, None);
    let mine = DraftOwner {
        user_id: a,
        uscc: Some(declarant()),
    };
    let colleague = DraftOwner {
        user_id: a2,
        uscc: Some(declarant()),
    };
    // The same user acting for another enterprise (a user moved): not the owner.
    let moved = DraftOwner {
        user_id: a,
        uscc: Some(other_declarant()),
    };
    let officer_owner = DraftOwner {
        user_id: officer,
        uscc: None,
    };

    let body1 = r#"{"values":{"contract_no":"CT-1","items[0].name":"钢材"},"items":1}"#;
    let first = s
        .save_draft(new_draft(&mine, "CT-1 · 钢材", body1, 0))
        .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.kind, "declaration");
    assert_eq!(first.title, "CT-1 · 钢材");
    assert_eq!(first.size, body1.len() as u64, "bytes, not characters");
    assert_eq!(first.created_at, t0());
    assert_eq!(first.updated_at, t0());
    let second = s
        .save_draft(new_draft(&mine, "second", "{\"n\":2}", 1))
        .unwrap();
    assert_ne!(first.id, second.id);
    let officers = s
        .save_draft(new_draft(&officer_owner, "officer's", "{}", 2))
        .unwrap();

    // Listed newest first, bodies left out; another's list has none of them.
    let listed = s.drafts(&mine).unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![second.id, first.id]
    );
    assert_eq!(listed[1], first);
    assert!(s.drafts(&colleague).unwrap().is_empty());
    assert!(s.drafts(&moved).unwrap().is_empty());
    assert_eq!(
        s.drafts(&officer_owner)
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![officers.id]
    );

    // Read back whole by its owner; nobody else reads it.
    let got = s.draft(&mine, first.id).unwrap().unwrap();
    assert_eq!(got.body, body1);
    assert_eq!(got.summary, first);
    assert!(s.draft(&colleague, first.id).unwrap().is_none());
    assert!(s.draft(&moved, first.id).unwrap().is_none());
    assert!(s.draft(&officer_owner, first.id).unwrap().is_none());
    assert!(s.draft(&mine, officers.id).unwrap().is_none());

    // An update by the owner: the next version, the new body, the creation time kept, and the
    // list reordered by the time of the last save.
    let mut upd = new_draft(&mine, "CT-1 · 钢材 (2)", "{\"values\":{}}", 5);
    upd.id = Some(first.id);
    upd.expected_version = Some(1);
    let updated = s.save_draft(upd.clone()).unwrap();
    assert_eq!(updated.id, first.id);
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, t0());
    assert_eq!(updated.updated_at, t0() + Duration::minutes(5));
    assert_eq!(
        s.draft(&mine, first.id).unwrap().unwrap().body,
        "{\"values\":{}}"
    );
    assert_eq!(s.drafts(&mine).unwrap()[0].id, first.id);
    // A save from a stale version: a conflict, nothing changed.
    let err = s.save_draft(upd.clone()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 1,
                actual: 2
            }
        ),
        "{err}"
    );
    // Without a version: the last write wins.
    upd.expected_version = None;
    upd.body = "{\"last\":true}".into();
    assert_eq!(s.save_draft(upd.clone()).unwrap().version, 3);

    // Another user (or the same user for another enterprise) can neither change nor delete it.
    for other in [&colleague, &moved, &officer_owner] {
        let mut w = upd.clone();
        w.owner = other.clone();
        let err = s.save_draft(w).unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        assert!(!s.delete_draft(other, first.id).unwrap());
    }
    assert_eq!(
        s.draft(&mine, first.id).unwrap().unwrap().body,
        "{\"last\":true}"
    );
    // An update of a draft that does not exist: not found.
    let mut w = upd.clone();
    w.id = Some(first.id + 1_000);
    assert!(matches!(
        s.save_draft(w).unwrap_err(),
        StoreError::NotFound(_)
    ));

    // The owner deletes it: gone, once.
    assert!(s.delete_draft(&mine, first.id).unwrap());
    assert!(!s.delete_draft(&mine, first.id).unwrap());
    assert!(s.draft(&mine, first.id).unwrap().is_none());
    assert_eq!(
        s.drafts(&mine)
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![second.id]
    );
    // Drafts are not audit records: the chain holds the three users' records only.
    let report = s.verify_audit().unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    assert_eq!(report.records_checked, 3, "{report:?}");
}

/// The bounds hold inside the write: kind, title, size, and the number per user.
pub fn draft_bounds_hold_in_the_write(h: &impl DraftsHarness) {
    let store = h.open();
    let s = store.as_ref();
    let a = user(s, "ent-a", Role::Enterprise, Some(declarant()));
    let owner = DraftOwner {
        user_id: a,
        uscc: Some(declarant()),
    };
    let invalid = |w: DraftWrite| {
        let err = s.save_draft(w).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    };
    let mut w = new_draft(&owner, "t", "{}", 0);
    w.kind = "manifest".into();
    invalid(w);
    invalid(new_draft(&owner, &"x".repeat(TITLE_MAX + 1), "{}", 0));
    invalid(new_draft(&owner, "t", "", 0));
    invalid(new_draft(&owner, "t", &"x".repeat(DRAFT_MAX_BYTES + 1), 0));
    // Exactly the largest body is kept whole.
    let big = format!("\"{}\"", "字".repeat((DRAFT_MAX_BYTES - 2) / 3));
    assert!(big.len() <= DRAFT_MAX_BYTES);
    let d = s.save_draft(new_draft(&owner, "big", &big, 0)).unwrap();
    assert_eq!(s.draft(&owner, d.id).unwrap().unwrap().body, big);
    for i in 1..DRAFTS_PER_USER {
        s.save_draft(new_draft(&owner, &format!("d{i}"), "{}", i as i64))
            .unwrap();
    }
    assert_eq!(s.drafts(&owner).unwrap().len(), DRAFTS_PER_USER);
    invalid(new_draft(&owner, "one too many", "{}", 0));
    // Updates are not counted; after a deletion a new one fits again.
    let mut upd = new_draft(&owner, "big, changed", "{}", 500);
    upd.id = Some(d.id);
    assert_eq!(s.save_draft(upd).unwrap().version, 2);
    assert!(s.delete_draft(&owner, d.id).unwrap());
    s.save_draft(new_draft(&owner, "fits again", "{}", 600))
        .unwrap();
    assert_eq!(s.drafts(&owner).unwrap().len(), DRAFTS_PER_USER);
}

/// A notifications read marker is per user and only moves forward.
pub fn read_marker_only_moves_forward(h: &impl DraftsHarness) {
    let store = h.open();
    let s = store.as_ref();
    let a = user(s, "ent-a", Role::Enterprise, Some(declarant()));
    let b = user(s, "officer", Role::Officer, None);
    assert_eq!(s.notifications_read(a).unwrap(), None);
    let mark = |user_id: i64, up_to: i64| {
        s.mark_notifications_read(ReadMarkWrite {
            user_id,
            up_to,
            now: t0(),
        })
    };
    assert_eq!(mark(a, 40).unwrap(), 40);
    assert_eq!(s.notifications_read(a).unwrap(), Some(40));
    assert_eq!(s.notifications_read(b).unwrap(), None, "per user");
    assert_eq!(mark(a, 12).unwrap(), 40, "never back");
    assert_eq!(mark(a, 41).unwrap(), 41);
    assert_eq!(mark(b, 7).unwrap(), 7);
    assert_eq!(s.notifications_read(a).unwrap(), Some(41));
    assert!(matches!(mark(a, -1), Err(StoreError::Invalid(_))));
}

/// Runs the suite as `#[test]`s: `drafts_contract_tests!(make_harness())`.
#[macro_export]
macro_rules! drafts_contract_tests {
    ($make:expr) => {
        #[test]
        fn drafts_belong_to_their_owner() {
            let harness = $make;
            $crate::drafts_contract::drafts_belong_to_their_owner(&harness);
        }
        #[test]
        fn draft_bounds_hold_in_the_write() {
            let harness = $make;
            $crate::drafts_contract::draft_bounds_hold_in_the_write(&harness);
        }
        #[test]
        fn read_marker_only_moves_forward() {
            let harness = $make;
            $crate::drafts_contract::read_marker_only_moves_forward(&harness);
        }
    };
}
