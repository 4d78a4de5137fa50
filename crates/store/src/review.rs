//! How an automatic review becomes events: one function every backend calls inside the
//! filing's transaction, after taking the declaration number for an accepting review.

use chrono::{DateTime, Utc};
use clearance::{apply, decide, Action, Actor, Command, DeclarationState, Event};
use domain::codes::DeclarationNo;

use crate::{notice_no, AutomaticReview, StoreError};

/// The events of an automatic review of a just-submitted declaration, applied to `state`:
/// `Rejected`, or `Accepted` (with `declaration_no`, taken by the caller) + `LaneChosen`
/// (+ `Assessed`, notices numbered `<declaration no>-<tax>`).
pub fn review_steps(
    state: &mut DeclarationState,
    review: &AutomaticReview,
    declaration_no: Option<DeclarationNo>,
    now: DateTime<Utc>,
) -> Result<(Vec<Event>, Option<crate::risk::FeedbackRow>), StoreError> {
    let system = |component: &str| Actor::System {
        component: component.to_owned(),
    };
    let mut events = Vec::new();
    let mut feedback = None;
    let mut step = |state: &mut DeclarationState, actor: Actor, action: Action| {
        let new = decide(state, &Command { actor, action }, now).map_err(StoreError::Refused)?;
        for e in &new {
            *state = apply(std::mem::take(state), e);
        }
        events.extend(new);
        Ok::<(), StoreError>(())
    };
    match review {
        AutomaticReview::Reject { problems } => step(
            state,
            system("automatic_review"),
            Action::Reject {
                problems: problems.clone(),
            },
        )?,
        AutomaticReview::Accept {
            lane,
            reasons,
            assessment,
        } => {
            // The caller takes a number for every accepting review.
            let declaration_no = declaration_no.ok_or_else(|| {
                StoreError::Corrupt("no declaration number taken for an accepting review".into())
            })?;
            step(
                state,
                system("automatic_review"),
                Action::Accept { declaration_no },
            )?;
            step(
                state,
                system("risk"),
                Action::ChooseLane {
                    lane: *lane,
                    reasons: reasons.clone(),
                    inspection: None,
                    explanation: None,
                },
            )?;
            if let Some(amounts) = assessment {
                let notices = amounts
                    .iter()
                    .map(|(tax, amount_fen)| clearance::PaymentNotice {
                        notice_no: notice_no(declaration_no, *tax),
                        tax: *tax,
                        amount_fen: *amount_fen,
                    })
                    .collect();
                step(state, system("tax"), Action::Assess { notices })?;
            }
        }
        AutomaticReview::AcceptRisk { choose } => {
            // The lane is chosen with the number just taken (sampling hashes it).
            let declaration_no = declaration_no.ok_or_else(|| {
                StoreError::Corrupt("no declaration number taken for an accepting review".into())
            })?;
            step(
                state,
                system("automatic_review"),
                Action::Accept { declaration_no },
            )?;
            let chosen = choose.choose(&declaration_no);
            for (actor, action) in chosen.steps(declaration_no) {
                step(state, actor, action)?;
            }
            feedback = chosen
                .feedback
                .filter(|f| f.declaration_no == declaration_no);
        }
    }
    Ok((events, feedback))
}
