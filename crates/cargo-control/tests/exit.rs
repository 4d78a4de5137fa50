//! Exit confirmed by the manifest (issue 14 item 6): an export closes only on a departed export
//! manifest that lists its bill (DOMAIN.md §3 step 8: "exports are closed when the goods have
//! left (the exit is confirmed by the manifest)"); free text such as `FAKE-NOT-A-MANIFEST` is
//! refused.

mod common;

use cargo_control::exit::{exit_proof, ExitRefusal};
use cargo_control::*;
use common::*;
use domain::codes::Direction;

/// Export manifest E1 (pre-load) with bills EXP1 and EXP2; declaration 1 matched to EXP1 and
/// released, declaration 2 matched to EXP2 and not released.
fn ledger_before_departure() -> ManifestLedger {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "E1",
                ManifestKind::PreLoad,
                Direction::Export,
                vec![bill("EXP1", 20, "400"), bill("EXP2", 5, "50")],
            ),
            t("2024-05-07T08:00:00Z"),
        )
        .unwrap();
    let (x1, x2) = (decl_no(Direction::Export, 1), decl_no(Direction::Export, 2));
    ledger
        .execute(&match_cmd("EXP1", x1, 20, "400"), t("2024-05-07T08:00:00Z"))
        .unwrap();
    ledger
        .execute(&write_off("EXP1", x1), t("2024-05-07T08:00:00Z"))
        .unwrap();
    ledger
        .execute(&match_cmd("EXP2", x2, 5, "50"), t("2024-05-07T08:00:00Z"))
        .unwrap();
    ledger
}

fn depart(ledger: &mut ManifestLedger) {
    ledger
        .execute(
            &ManifestCommand {
                actor: as_carrier(carrier_a()),
                action: ManifestAction::ConfirmDeparture {
                    manifest_id: mid("E1"),
                    departed_at: t("2024-05-08T00:00:00Z"),
                },
            },
            t("2024-05-08T01:00:00Z"),
        )
        .unwrap();
}

#[test]
fn free_text_is_not_a_manifest() {
    let ledger = ledger_before_departure();
    let x1 = decl_no(Direction::Export, 1);
    for text in ["FAKE-NOT-A-MANIFEST/EXP1/X", "", "e1 lower", "E1/"] {
        let e = exit_proof(&ledger, text, x1, Some("EXP1")).unwrap_err();
        assert_eq!(e.code(), "not_a_manifest_reference", "{text}");
        assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
    }
    // The text is a well-formed id of no manifest.
    let e = exit_proof(&ledger, "FAKE-NOT-A-MANIFEST", x1, Some("EXP1")).unwrap_err();
    assert_eq!(e.code(), "unknown_manifest");
    assert_eq!(e.message_en(), "no manifest FAKE-NOT-A-MANIFEST");
    assert_eq!(e.message_zh(), "舱单 FAKE-NOT-A-MANIFEST 不存在");
    let e = exit_proof(&ledger, "E9", x1, Some("EXP1")).unwrap_err();
    assert_eq!(
        e,
        ExitRefusal::UnknownManifest {
            manifest_id: "E9".into()
        }
    );
}

#[test]
fn a_manifest_before_loading_confirms_no_exit() {
    let ledger = ledger_before_departure();
    let e = exit_proof(&ledger, "E1", decl_no(Direction::Export, 1), Some("EXP1")).unwrap_err();
    assert_eq!(e.code(), "manifest_not_departed");
    assert_eq!(e.message_zh(), "舱单尚未离境（当前状态：已申报预配舱单）");
}

#[test]
fn a_departed_manifest_listing_the_released_bill_confirms_the_exit() {
    let mut ledger = ledger_before_departure();
    depart(&mut ledger);
    let x1 = decl_no(Direction::Export, 1);
    let proof = exit_proof(&ledger, "E1", x1, Some("EXP1")).unwrap();
    assert_eq!(proof.manifest_ref(), "E1/EXP1");
    assert_eq!(proof.departed_at, t("2024-05-08T00:00:00Z"));
    // The reference the automatic confirmation records is accepted too.
    assert_eq!(
        exit_proof(&ledger, "E1/EXP1", x1, Some("EXP1")).unwrap(),
        proof
    );
    // Another bill than the declaration's, an unreleased declaration, a declaration not on the
    // bill, a declaration without bill and a bill not on the manifest are refused.
    assert_eq!(
        exit_proof(&ledger, "E1/EXP2", x1, Some("EXP1"))
            .unwrap_err()
            .code(),
        "other_bill"
    );
    assert_eq!(
        exit_proof(&ledger, "E1", decl_no(Direction::Export, 2), Some("EXP2"))
            .unwrap_err()
            .code(),
        "not_released"
    );
    assert_eq!(
        exit_proof(&ledger, "E1", decl_no(Direction::Export, 9), Some("EXP1"))
            .unwrap_err()
            .code(),
        "declaration_not_on_bill"
    );
    assert_eq!(
        exit_proof(&ledger, "E1", x1, None).unwrap_err().code(),
        "no_bill"
    );
    assert_eq!(
        exit_proof(&ledger, "E1", x1, Some("OTHER1"))
            .unwrap_err()
            .code(),
        "bill_not_on_manifest"
    );
}

#[test]
fn an_import_manifest_confirms_no_exit() {
    let ledger = arrived_ledger(MatchPolicy::default(), "M1", vec![bill("B1", 1, "1")]);
    let e = exit_proof(&ledger, "M1", decl_no(Direction::Export, 1), Some("B1")).unwrap_err();
    assert_eq!(e.code(), "not_an_export_manifest");
}
