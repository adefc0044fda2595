//! Answers to a policy's questions (`accessPackageAnswerString` on a request): each names a
//! question of the policy, a text answer matches the question's `regexPattern` when it has one,
//! a multiple-choice answer is one of the choices (several only where the question allows it),
//! and a requestor's request answers every required question (DESIGN section 5's rule "required
//! answers missing").

use crate::error::{DomainError, DomainResult};
use crate::model::{Answer, CHOICE_QUESTION_TYPE, Question, TEXT_QUESTION_TYPE};

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

/// Checks `answers` against the policy's `questions` and completes them (question type, the
/// choice's display text). `requestor` is a request by the target or on its behalf, which must
/// answer the required questions; an administrator's direct assignment may leave them out.
pub(super) fn check_answers(
    questions: &[Question],
    answers: Vec<Answer>,
    requestor: bool,
) -> DomainResult<Vec<Answer>> {
    let mut checked: Vec<Answer> = Vec::with_capacity(answers.len());
    for mut answer in answers {
        let question = questions
            .iter()
            .find(|q| question_id(q) == Some(answer.question_id.as_str()))
            .ok_or_else(|| {
                rule(format!(
                    "answer to '{}', which is not a question of the policy",
                    answer.question_id
                ))
            })?;
        let repeated = checked.iter().any(|a| a.question_id == answer.question_id);
        match question {
            Question::TextInput {
                text,
                regex_pattern,
                ..
            } => {
                if repeated {
                    return Err(rule(format!("question '{text}' is answered twice")));
                }
                if let Some(pattern) = regex_pattern.as_deref().filter(|p| !p.is_empty()) {
                    let matcher = anchored(pattern)?;
                    if !matcher.is_match(&answer.value) {
                        return Err(rule(format!(
                            "the answer to question '{text}' does not match its pattern '{pattern}'"
                        )));
                    }
                }
                answer.question_type = TEXT_QUESTION_TYPE.into();
            }
            Question::MultipleChoice {
                text,
                choices,
                is_multiple_selection_allowed,
                ..
            } => {
                if repeated && !is_multiple_selection_allowed {
                    return Err(rule(format!(
                        "question '{text}' takes one choice; it is answered twice"
                    )));
                }
                let choice = choices
                    .iter()
                    .find(|c| c.actual_value == answer.value)
                    .ok_or_else(|| {
                        rule(format!(
                            "'{}' is not a choice of question '{text}' (choices: {})",
                            answer.value,
                            choices
                                .iter()
                                .map(|c| c.actual_value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                if answer.display_value.is_none() {
                    answer.display_value = choice.text.clone();
                }
                answer.question_type = CHOICE_QUESTION_TYPE.into();
            }
        }
        checked.push(answer);
    }
    if requestor {
        for question in questions {
            let (Question::TextInput {
                is_required, text, ..
            }
            | Question::MultipleChoice {
                is_required, text, ..
            }) = question;
            let answered = checked.iter().any(|a| {
                Some(a.question_id.as_str()) == question_id(question) && !a.value.trim().is_empty()
            });
            if *is_required && !answered {
                return Err(rule(format!(
                    "the policy's question '{text}' requires an answer"
                )));
            }
        }
    }
    Ok(checked)
}

fn question_id(question: &Question) -> Option<&str> {
    match question {
        Question::TextInput { id, .. } | Question::MultipleChoice { id, .. } => id.as_deref(),
    }
}

/// The pattern matched against the whole answer, as Entra applies it.
pub(super) fn anchored(pattern: &str) -> DomainResult<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        rule(format!(
            "regexPattern '{pattern}' is not a valid pattern: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AnswerChoice;

    fn text_question(required: bool, pattern: Option<&str>) -> Question {
        Question::TextInput {
            id: Some("q-text".into()),
            is_answer_editable: false,
            is_required: required,
            localizations: Vec::new(),
            sequence: 1,
            text: "Ticket number?".into(),
            is_single_line_question: true,
            regex_pattern: pattern.map(str::to_owned),
        }
    }

    fn choice_question(multiple: bool) -> Question {
        Question::MultipleChoice {
            id: Some("q-choice".into()),
            is_answer_editable: false,
            is_required: true,
            localizations: Vec::new(),
            sequence: 2,
            text: "Region?".into(),
            choices: ["eu", "us"]
                .iter()
                .map(|v| AnswerChoice {
                    actual_value: (*v).into(),
                    localizations: Vec::new(),
                    text: Some(v.to_uppercase()),
                })
                .collect(),
            is_multiple_selection_allowed: multiple,
        }
    }

    fn answer(question: &str, value: &str) -> Answer {
        Answer {
            question_id: question.into(),
            question_type: String::new(),
            value: value.into(),
            display_value: None,
        }
    }

    fn message(result: DomainResult<Vec<Answer>>) -> String {
        match result {
            Err(DomainError::Invalid { message, .. }) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn answers_are_completed_with_question_type_and_choice_text() {
        let questions = [
            text_question(true, Some("INC[0-9]+")),
            choice_question(false),
        ];
        let checked = check_answers(
            &questions,
            vec![answer("q-text", "INC42"), answer("q-choice", "eu")],
            true,
        )
        .unwrap();
        assert_eq!(checked[0].question_type, TEXT_QUESTION_TYPE);
        assert_eq!(checked[1].question_type, CHOICE_QUESTION_TYPE);
        assert_eq!(checked[1].display_value.as_deref(), Some("EU"));
    }

    #[test]
    fn each_rule_names_what_is_wrong() {
        let questions = [
            text_question(true, Some("INC[0-9]+")),
            choice_question(false),
        ];
        assert!(
            message(check_answers(
                &questions,
                vec![answer("q-choice", "eu")],
                true
            ))
            .contains("requires an answer")
        );
        assert!(
            message(check_answers(
                &questions,
                vec![answer("q-text", "xINC42"), answer("q-choice", "eu")],
                true
            ))
            .contains("does not match its pattern")
        );
        assert!(
            message(check_answers(
                &questions,
                vec![answer("q-text", "INC1"), answer("q-choice", "asia")],
                true
            ))
            .contains("is not a choice")
        );
        assert!(
            message(check_answers(
                &questions,
                vec![
                    answer("q-text", "INC1"),
                    answer("q-choice", "eu"),
                    answer("q-choice", "us")
                ],
                true
            ))
            .contains("answered twice")
        );
        assert!(
            message(check_answers(&questions, vec![answer("nope", "x")], false))
                .contains("not a question of the policy")
        );
    }

    #[test]
    fn an_administrator_may_leave_required_questions_and_several_choices_may_be_allowed() {
        let questions = [text_question(true, None), choice_question(true)];
        assert!(
            check_answers(&questions, Vec::new(), false)
                .unwrap()
                .is_empty()
        );
        let both = check_answers(
            &questions,
            vec![
                answer("q-text", "x"),
                answer("q-choice", "eu"),
                answer("q-choice", "us"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(both.len(), 3);
    }
}
