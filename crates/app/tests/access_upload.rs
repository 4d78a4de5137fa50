//! Reading an uploaded declaration file (`Operation::ReadDeclarationFile` on
//! `Resource::Upload`): enterprises only; every other principal, and every other operation on an
//! upload, is denied. The table is written here by hand, not derived from the code under test.

use std::collections::BTreeSet;

use app::{authorize, Duty, Operation, Principal, Resource};
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;

#[test]
fn only_enterprises_read_declaration_files() {
    let refdata = RefData::embedded().unwrap();
    let enterprise = Principal::Enterprise {
        user_id: 1,
        login: "a".into(),
        uscc: Uscc::parse("91110000600037341L").unwrap(),
        roles: app::access::legacy_enterprise_roles(),
    };
    let mut others = vec![
        Principal::Agency {
            user_id: 5,
            login: "m".into(),
            agency: "commerce".into(),
        },
        Principal::Admin {
            user_id: 6,
            login: "root".into(),
        },
    ];
    for duty in Duty::ALL {
        others.push(Principal::Officer {
            user_id: 2,
            login: "o".into(),
            office: OfficeCode::parse("0101").unwrap(),
            duties: BTreeSet::from([duty]),
        });
        others.push(Principal::Hq {
            user_id: 3,
            login: "hq".into(),
            duties: BTreeSet::from([duty]),
        });
    }
    for op in Operation::ALL {
        assert_eq!(
            authorize(&enterprise, op, Resource::Upload, &refdata).is_ok(),
            op == Operation::ReadDeclarationFile,
            "enterprise {op:?} on an upload"
        );
        for p in &others {
            assert!(
                authorize(p, op, Resource::Upload, &refdata).is_err(),
                "{p:?} {op:?} on an upload"
            );
        }
    }
}
