//! The guarantee ledger 担保台账: bank guarantees 保函 and general guarantees 总担保 that secure
//! duties and taxes, as a pure state machine. [`GuaranteeLedger::decide`] checks a
//! [`GuaranteeCommand`] against the state and answers the [`GuaranteeEvent`] or a
//! [`GuaranteeRefusal`] (zh/en); [`GuaranteeLedger::apply`] folds an event in. The balance is
//! `amount − open reservations − claims`, in checked [`Fen`] arithmetic, and can never go below
//! zero: a reservation larger than the balance is refused.
//!
//! ```text
//! register (by the issuing bank) → reserve (release against guarantee, transit: the assessed or
//! estimated amount, with the notice's due date) → release (on payment) | claim (due date passed
//! unpaid: enforced against the bank)
//! ```
//!
//! Here (in `tax`) because a guarantee secures the duties and taxes this crate assesses, and both
//! the declaration's release (app) and a transit (`cargo-control`, which already depends on
//! `tax`) draw on the same ledger.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuaranteeKind {
    /// 保函: a bank's guarantee, usually for one purpose.
    BankGuarantee,
    /// 总担保: a general guarantee covering many declarations within its amount.
    General,
}

/// What a guarantee may secure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 担保放行: release before the taxes are paid.
    Release,
    /// 转关运输: the duties on goods in transit.
    Transit,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Release => "release",
            Purpose::Transit => "transit",
        }
    }
    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "release" => Some(Purpose::Release),
            "transit" => Some(Purpose::Transit),
            _ => None,
        }
    }
}

/// One guarantee as registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteeTerms {
    pub id: String,
    pub kind: GuaranteeKind,
    /// The issuing bank's user code.
    pub bank: String,
    /// The enterprise it secures.
    pub holder: Uscc,
    pub amount_fen: Fen,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    /// Offices where it may be used (each covers its subordinate offices; `0000` covers all).
    pub offices: Vec<OfficeCode>,
    pub purposes: Vec<Purpose>,
}

/// An open reservation against a guarantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub amount_fen: Fen,
    pub purpose: Purpose,
    pub office: OfficeCode,
    /// The due date of what it secures; a claim is possible after it.
    pub due_on: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarantee {
    pub terms: GuaranteeTerms,
    /// Open reservations by the caller's reference (a declaration or transit number).
    pub reservations: BTreeMap<String, Reservation>,
    pub claimed_fen: Fen,
}

impl Guarantee {
    pub fn reserved_fen(&self) -> Fen {
        Fen::checked_sum(self.reservations.values().map(|r| r.amount_fen))
            .expect("reservations never exceed the amount (checked when reserved)")
    }
    /// `amount − reserved − claimed`, never negative.
    pub fn balance_fen(&self) -> Fen {
        self.terms
            .amount_fen
            .checked_sub(self.reserved_fen())
            .and_then(|b| b.checked_sub(self.claimed_fen))
            .expect("the balance is kept non-negative by decide")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum GuaranteeCommand {
    /// The issuing bank registers a guarantee; `by_bank` is the acting bank user.
    Register {
        by_bank: String,
        terms: GuaranteeTerms,
    },
    /// Reserve an amount for a release or a transit of `holder` at `office` on `on`.
    Reserve {
        id: String,
        reference: String,
        holder: Uscc,
        office: OfficeCode,
        purpose: Purpose,
        amount_fen: Fen,
        on: NaiveDate,
        due_on: NaiveDate,
    },
    /// What the reservation secured was paid: the amount returns to the balance.
    Release { id: String, reference: String },
    /// The due date passed unpaid (`on` > due date): the reservation is enforced against the bank.
    Claim {
        id: String,
        reference: String,
        on: NaiveDate,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GuaranteeEvent {
    Registered {
        terms: GuaranteeTerms,
    },
    Reserved {
        id: String,
        reference: String,
        reservation: Reservation,
    },
    Released {
        id: String,
        reference: String,
        amount_fen: Fen,
    },
    Claimed {
        id: String,
        reference: String,
        bank: String,
        amount_fen: Fen,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum GuaranteeRefusal {
    Unknown {
        id: String,
    },
    AlreadyRegistered {
        id: String,
    },
    /// Registration by a bank user that is not the issuing bank.
    NotIssuingBank {
        bank: String,
    },
    /// Zero amount, empty scope, validity ending before it starts, empty id.
    BadTerms {
        reason_en: &'static str,
        reason_zh: &'static str,
    },
    NotValid {
        on: NaiveDate,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
    },
    OtherHolder,
    OfficeOutOfScope {
        office: OfficeCode,
    },
    PurposeOutOfScope {
        purpose: Purpose,
    },
    NonPositiveAmount,
    ShortOfBalance {
        balance_fen: Fen,
        asked_fen: Fen,
    },
    ReferenceInUse {
        reference: String,
    },
    NoReservation {
        reference: String,
    },
    NotYetDue {
        due_on: NaiveDate,
        on: NaiveDate,
    },
    /// What it would secure falls due after the guarantee expires: no claim would be possible.
    DueAfterExpiry {
        due_on: NaiveDate,
        valid_to: NaiveDate,
    },
}

impl GuaranteeRefusal {
    /// A stable code for machines (the `code` of the serialized form).
    pub fn code(&self) -> &'static str {
        use GuaranteeRefusal as R;
        match self {
            R::Unknown { .. } => "guarantee_unknown",
            R::AlreadyRegistered { .. } => "guarantee_already_registered",
            R::NotIssuingBank { .. } => "guarantee_not_issuing_bank",
            R::BadTerms { .. } => "guarantee_bad_terms",
            R::NotValid { .. } => "guarantee_not_valid",
            R::OtherHolder => "guarantee_other_holder",
            R::OfficeOutOfScope { .. } => "guarantee_office_out_of_scope",
            R::PurposeOutOfScope { .. } => "guarantee_purpose_out_of_scope",
            R::NonPositiveAmount => "guarantee_non_positive_amount",
            R::ShortOfBalance { .. } => "guarantee_short_of_balance",
            R::ReferenceInUse { .. } => "guarantee_reference_in_use",
            R::NoReservation { .. } => "guarantee_no_reservation",
            R::NotYetDue { .. } => "guarantee_not_yet_due",
            R::DueAfterExpiry { .. } => "guarantee_due_after_expiry",
        }
    }

    pub fn message_en(&self) -> String {
        use GuaranteeRefusal as R;
        match self {
            R::Unknown { id } => format!("no guarantee {id}"),
            R::AlreadyRegistered { id } => format!("guarantee {id} is already registered"),
            R::NotIssuingBank { bank } => {
                format!("only the issuing bank {bank} may register this guarantee")
            }
            R::BadTerms { reason_en, .. } => format!("bad guarantee terms: {reason_en}"),
            R::NotValid {
                on,
                valid_from,
                valid_to,
            } => format!("the guarantee is valid from {valid_from} to {valid_to}, not on {on}"),
            R::OtherHolder => "the guarantee secures another enterprise".into(),
            R::OfficeOutOfScope { office } => {
                format!("the guarantee does not cover office {office}")
            }
            R::PurposeOutOfScope { purpose } => {
                format!("the guarantee does not cover {}", purpose.as_str())
            }
            R::NonPositiveAmount => "the amount to reserve must be positive".into(),
            R::ShortOfBalance {
                balance_fen,
                asked_fen,
            } => format!("the guarantee's balance {balance_fen} is short of {asked_fen}"),
            R::ReferenceInUse { reference } => {
                format!("{reference} already has a reservation on this guarantee")
            }
            R::NoReservation { reference } => {
                format!("no open reservation for {reference} on this guarantee")
            }
            R::NotYetDue { due_on, on } => {
                format!("the secured amount is due on {due_on}; no claim on {on}")
            }
            R::DueAfterExpiry { due_on, valid_to } => format!(
                "the secured amount is due on {due_on}, after the guarantee expires on {valid_to}"
            ),
        }
    }
    pub fn message_zh(&self) -> String {
        use GuaranteeRefusal as R;
        match self {
            R::Unknown { id } => format!("担保 {id} 不存在"),
            R::AlreadyRegistered { id } => format!("担保 {id} 已登记"),
            R::NotIssuingBank { bank } => format!("只有出具银行 {bank} 可以登记该担保"),
            R::BadTerms { reason_zh, .. } => format!("担保条件有误：{reason_zh}"),
            R::NotValid {
                on,
                valid_from,
                valid_to,
            } => format!("担保有效期为 {valid_from} 至 {valid_to}，{on} 不在有效期内"),
            R::OtherHolder => "该担保不属于本企业".into(),
            R::OfficeOutOfScope { office } => format!("该担保不适用于关区 {office}"),
            R::PurposeOutOfScope { purpose } => {
                format!("该担保不适用于该用途（{}）", purpose.as_str())
            }
            R::NonPositiveAmount => "占用金额必须大于零".into(),
            R::ShortOfBalance {
                balance_fen,
                asked_fen,
            } => format!("担保余额 {balance_fen} 不足 {asked_fen}"),
            R::ReferenceInUse { reference } => format!("{reference} 已占用该担保"),
            R::NoReservation { reference } => format!("{reference} 未占用该担保"),
            R::NotYetDue { due_on, on } => {
                format!("担保款项 {due_on} 到期，{on} 不能向银行索赔")
            }
            R::DueAfterExpiry { due_on, valid_to } => {
                format!("担保款项 {due_on} 到期，晚于担保有效期止日 {valid_to}")
            }
        }
    }
}

fn covers(scope: OfficeCode, target: OfficeCode) -> bool {
    let mut cur = Some(target);
    while let Some(o) = cur {
        if o == scope {
            return true;
        }
        cur = o.digit_parent();
    }
    false
}

/// Every guarantee by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GuaranteeLedger {
    guarantees: BTreeMap<String, Guarantee>,
}

impl GuaranteeLedger {
    /// The ledger of one guarantee as stored: its terms, then its reservations, open or claimed
    /// (`true`), folded in as the events that made them.
    pub fn of_one<'a>(
        terms: &GuaranteeTerms,
        reservations: impl IntoIterator<Item = (&'a str, &'a Reservation, bool)>,
    ) -> GuaranteeLedger {
        let mut ledger = GuaranteeLedger::default();
        ledger.apply(&GuaranteeEvent::Registered {
            terms: terms.clone(),
        });
        for (reference, r, claimed) in reservations {
            ledger.apply(&GuaranteeEvent::Reserved {
                id: terms.id.clone(),
                reference: reference.to_owned(),
                reservation: r.clone(),
            });
            if claimed {
                ledger.apply(&GuaranteeEvent::Claimed {
                    id: terms.id.clone(),
                    reference: reference.to_owned(),
                    bank: terms.bank.clone(),
                    amount_fen: r.amount_fen,
                });
            }
        }
        ledger
    }

    pub fn get(&self, id: &str) -> Option<&Guarantee> {
        self.guarantees.get(id)
    }

    pub fn guarantees(&self) -> impl Iterator<Item = &Guarantee> {
        self.guarantees.values()
    }

    fn known(&self, id: &str) -> Result<&Guarantee, GuaranteeRefusal> {
        self.guarantees
            .get(id)
            .ok_or_else(|| GuaranteeRefusal::Unknown { id: id.to_owned() })
    }

    /// Check a command; the state is not changed.
    pub fn decide(&self, command: &GuaranteeCommand) -> Result<GuaranteeEvent, GuaranteeRefusal> {
        use GuaranteeRefusal as R;
        match command {
            GuaranteeCommand::Register { by_bank, terms } => {
                let bad = |reason_en, reason_zh| {
                    Err(R::BadTerms {
                        reason_en,
                        reason_zh,
                    })
                };
                if by_bank != &terms.bank {
                    return Err(R::NotIssuingBank {
                        bank: terms.bank.clone(),
                    });
                }
                if terms.id.trim().is_empty() {
                    return bad("no id", "缺少担保编号");
                }
                if self.guarantees.contains_key(&terms.id) {
                    return Err(R::AlreadyRegistered {
                        id: terms.id.clone(),
                    });
                }
                if terms.amount_fen <= Fen::ZERO {
                    return bad("the amount must be positive", "担保金额必须大于零");
                }
                if terms.valid_to < terms.valid_from {
                    return bad("validity ends before it starts", "有效期止日早于起日");
                }
                if terms.offices.is_empty() || terms.purposes.is_empty() {
                    return bad("no office or no purpose in scope", "未列明适用关区或用途");
                }
                Ok(GuaranteeEvent::Registered {
                    terms: terms.clone(),
                })
            }
            GuaranteeCommand::Reserve {
                id,
                reference,
                holder,
                office,
                purpose,
                amount_fen,
                on,
                due_on,
            } => {
                let g = self.known(id)?;
                let t = &g.terms;
                if *on < t.valid_from || *on > t.valid_to {
                    return Err(R::NotValid {
                        on: *on,
                        valid_from: t.valid_from,
                        valid_to: t.valid_to,
                    });
                }
                if *due_on > t.valid_to {
                    return Err(R::DueAfterExpiry {
                        due_on: *due_on,
                        valid_to: t.valid_to,
                    });
                }
                if *holder != t.holder {
                    return Err(R::OtherHolder);
                }
                if !t.offices.iter().any(|s| covers(*s, *office)) {
                    return Err(R::OfficeOutOfScope { office: *office });
                }
                if !t.purposes.contains(purpose) {
                    return Err(R::PurposeOutOfScope { purpose: *purpose });
                }
                if *amount_fen <= Fen::ZERO {
                    return Err(R::NonPositiveAmount);
                }
                if g.reservations.contains_key(reference) {
                    return Err(R::ReferenceInUse {
                        reference: reference.clone(),
                    });
                }
                let balance_fen = g.balance_fen();
                if *amount_fen > balance_fen {
                    return Err(R::ShortOfBalance {
                        balance_fen,
                        asked_fen: *amount_fen,
                    });
                }
                Ok(GuaranteeEvent::Reserved {
                    id: id.clone(),
                    reference: reference.clone(),
                    reservation: Reservation {
                        amount_fen: *amount_fen,
                        purpose: *purpose,
                        office: *office,
                        due_on: *due_on,
                    },
                })
            }
            GuaranteeCommand::Release { id, reference } => {
                let g = self.known(id)?;
                let r = g
                    .reservations
                    .get(reference)
                    .ok_or_else(|| R::NoReservation {
                        reference: reference.clone(),
                    })?;
                Ok(GuaranteeEvent::Released {
                    id: id.clone(),
                    reference: reference.clone(),
                    amount_fen: r.amount_fen,
                })
            }
            GuaranteeCommand::Claim { id, reference, on } => {
                let g = self.known(id)?;
                let r = g
                    .reservations
                    .get(reference)
                    .ok_or_else(|| R::NoReservation {
                        reference: reference.clone(),
                    })?;
                if *on <= r.due_on {
                    return Err(R::NotYetDue {
                        due_on: r.due_on,
                        on: *on,
                    });
                }
                Ok(GuaranteeEvent::Claimed {
                    id: id.clone(),
                    reference: reference.clone(),
                    bank: g.terms.bank.clone(),
                    amount_fen: r.amount_fen,
                })
            }
        }
    }

    /// Fold in an event [`decide`](Self::decide) answered (or one read back from the store).
    pub fn apply(&mut self, event: &GuaranteeEvent) {
        match event {
            GuaranteeEvent::Registered { terms } => {
                self.guarantees.insert(
                    terms.id.clone(),
                    Guarantee {
                        terms: terms.clone(),
                        reservations: BTreeMap::new(),
                        claimed_fen: Fen::ZERO,
                    },
                );
            }
            GuaranteeEvent::Reserved {
                id,
                reference,
                reservation,
            } => {
                if let Some(g) = self.guarantees.get_mut(id) {
                    g.reservations
                        .insert(reference.clone(), reservation.clone());
                }
            }
            GuaranteeEvent::Released { id, reference, .. } => {
                if let Some(g) = self.guarantees.get_mut(id) {
                    g.reservations.remove(reference);
                }
            }
            GuaranteeEvent::Claimed { id, reference, .. } => {
                if let Some(g) = self.guarantees.get_mut(id) {
                    if let Some(r) = g.reservations.remove(reference) {
                        // The reservation's amount moves from reserved to claimed: the sum of the
                        // two is unchanged, so this cannot exceed the amount.
                        g.claimed_fen = g
                            .claimed_fen
                            .checked_add(r.amount_fen)
                            .expect("claimed + reserved ≤ amount");
                    }
                }
            }
        }
    }

    /// Decide and apply in one step.
    pub fn execute(
        &mut self,
        command: &GuaranteeCommand,
    ) -> Result<GuaranteeEvent, GuaranteeRefusal> {
        let event = self.decide(command)?;
        self.apply(&event);
        Ok(event)
    }
}
