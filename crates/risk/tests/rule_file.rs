//! The rule file: the shipped examples, errors with positions (all at once), the JSON twin,
//! round trips, and the `jinguan risk` command logic.

mod common;
use common::*;
use risk::*;

const EXAMPLE: &str = include_str!("../../../examples/risk/rules.rules");
const EXAMPLE_JSON: &str = include_str!("../../../examples/risk/rules.json");
const INVALID: &str = include_str!("../../../examples/risk/invalid.rules");
const FEEDBACK: &str = include_str!("../../../examples/risk/feedback.jsonl");

#[test]
fn the_example_file_is_valid() {
    let set = RuleSet::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(set.len(), 8);
    let r = set
        .rules()
        .iter()
        .find(|r| r.id == "UV-8471-LOWPRICE" && r.version == 2)
        .unwrap();
    assert_eq!(r.priority, 40);
    assert_eq!(r.valid_to, Some(day("2025-12-31")));
    assert_eq!(r.action.inspection, Some(InspectionKind::Physical));
    // The continuation line belongs to the condition.
    assert_eq!(
        r.when.to_string(),
        r#"commodity ^= "8471" and origin in ["JPN", "KOR", "USA"] and unit_price_cny < 1000"#
    );
    assert!(set
        .rules()
        .iter()
        .any(|r| r.id == "SH-MEAT-BAN" && r.action.suspend));
    // Every example rule has an indexable test: none is checked on every declaration.
    assert_eq!(
        CompiledRules::compile(&set, day("2025-01-01")).unanchored(),
        0
    );
}

#[test]
fn the_json_example_is_the_same_rules() {
    let json = RuleSet::parse(EXAMPLE_JSON).unwrap_or_else(|e| panic!("{e:#?}"));
    let text = RuleSet::parse(EXAMPLE).unwrap();
    for r in json.rules() {
        let t = text
            .rules()
            .iter()
            .find(|t| t.id == r.id && t.version == r.version)
            .unwrap();
        assert_eq!(
            (&r.when, &r.action, r.priority, r.office),
            (&t.when, &t.action, t.priority, t.office)
        );
    }
}

#[test]
fn text_and_json_round_trip() {
    let set = RuleSet::parse(EXAMPLE).unwrap();
    let again = RuleSet::parse_text(&set.to_text()).unwrap();
    assert_eq!(strip_lines(&again), strip_lines(&set));
    let json = serde_json::to_string(&set.to_json()).unwrap();
    let from_json = RuleSet::parse(&json).unwrap();
    assert_eq!(strip_lines(&from_json), strip_lines(&set));
    assert_eq!(from_json.fingerprint(), set.fingerprint());
    // One rule through serde, as the API stores it.
    let r = &set.rules()[0];
    let back: Rule = serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
    assert_eq!(back.when, r.when);
    assert!(serde_json::from_str::<Rule>(r#"{"id":"X","office":"0000","valid_from":"2025-01-01","when":"orign = \"USA\"","lane":"red","reason":{"code":"x","zh":"原因","en":"why"}}"#).is_err());
}

fn strip_lines(set: &RuleSet) -> Vec<Rule> {
    set.rules()
        .iter()
        .cloned()
        .map(|mut r| {
            r.line = 0;
            r
        })
        .collect()
}

#[test]
fn every_error_is_reported_with_its_position() {
    let errors = RuleSet::parse(INVALID).unwrap_err();
    let got: Vec<(u32, Option<u32>, Option<&str>, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.rule.as_deref(), e.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (6, Some(32), Some("BAD-FIELD"), "orign"),
            (12, Some(10), Some("BAD-CODE"), "office"),
            (13, Some(9), Some("BAD-CODE"), "valid"),
            (14, Some(21), Some("BAD-CODE"), "trade_mode"),
            (15, Some(8), Some("BAD-CODE"), "lane"),
            (22, Some(12), Some("BAD-OPERATOR"), "priority"),
            // One error per condition: the parse stops at the first (the `(` is never closed).
            (23, Some(23), Some("BAD-OPERATOR"), "unit_price_cny"),
            (25, Some(10), Some("BAD-OPERATOR"), "reason"),
            (30, Some(17), Some("MISSING-KEYS"), "origin"),
            (31, None, Some("MISSING-KEYS"), "valid"),
            (31, None, Some("MISSING-KEYS"), "lane"),
            (31, None, Some("MISSING-KEYS"), "reason"),
            (38, Some(3), Some("BAD-FIELD"), "colour"),
        ]
    );
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("did you mean `origin`"), "{all}");
    assert!(all.contains("quote it"), "{all}");
    for e in &errors {
        assert!(!e.message_zh.is_empty() && !e.message_en.is_empty());
    }
}

#[test]
fn one_error_per_mistake() {
    let case = |text: &str| -> Vec<String> {
        RuleSet::parse(text)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}:{} {}", e.line, e.field, e.message_en))
            .collect()
    };
    let e = case("rule A\n office 0000\n valid from 2025-01-01\n when origin = \"US\"\n lane red\n reason a \"中\" \"en\"\nend\n");
    assert_eq!(e, ["4:origin origin has 3 letters: \"US\""]);
    let e = case(
        &[
            rule("A", "origin = \"USA\"", "red"),
            rule("A", "origin = \"JPN\"", "red"),
        ]
        .concat(),
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].contains("version 1 is defined twice (first at line 1)"),
        "{e:?}"
    );
    let e = case("rule A\n office 0000\n valid from 2025-01-01\n when\n lane red\n reason a \"中\" \"en\"\nend\n");
    assert!(e[0].contains("the condition is empty"), "{e:?}");
    let e = case("office 0000\n");
    assert!(e[0].contains("expected `rule ID`"), "{e:?}");
    let e = case(&rule("A", "origin = \"USA\"", "red").replace("end\n", ""));
    assert!(e[0].contains("has no `end`"), "{e:?}");
    let e = case(&rule("A", "(origin = \"USA\"", "red"));
    assert!(e[0].contains("expected `)`"), "{e:?}");
    let e = case("[{\"id\": \"A\"}]");
    assert!(e[0].starts_with("1:"), "{e:?}");
}

#[test]
fn check_command_exit_codes_and_output() {
    let ok = cli::check("rules.rules", EXAMPLE, false);
    assert_eq!(ok.exit_code, 0);
    assert!(
        ok.stdout
            .starts_with("rules.rules: ok, 7 rules (8 versions)"),
        "{}",
        ok.stdout
    );
    let bad = cli::check("invalid.rules", INVALID, false);
    assert_eq!(bad.exit_code, 1);
    assert!(
        bad.stdout
            .contains("invalid.rules:line 6:32 rule BAD-FIELD [orign]: unknown field `orign`"),
        "{}",
        bad.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli::check("invalid.rules", INVALID, true).stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["line"], 6);
    assert_eq!(json["errors"][0]["column"], 32);
    let json: serde_json::Value =
        serde_json::from_str(&cli::check("r.json", EXAMPLE_JSON, true).stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["versions"], 2);
}

#[test]
fn report_and_draw_commands() {
    let out = cli::report("feedback.jsonl", FEEDBACK, false);
    assert_eq!(out.exit_code, 0);
    assert!(
        out.stdout.contains("decisions 15  examined 12  found 6"),
        "{}",
        out.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli::report("f", FEEDBACK, true).stdout).unwrap();
    assert_eq!(json["baseline"]["hit_rate_percent"], "25.00");
    let bad = cli::report("f", "{\"declaration_no\": \"1\"}\n", false);
    assert_eq!(bad.exit_code, 1);
    assert!(bad.stdout.starts_with("f:1: "), "{}", bad.stdout);
    let d = cli::draw(
        "jinguan-sampling-2025",
        &["223320251000000001".into()],
        false,
    );
    assert_eq!(
        (d.exit_code, d.stdout.as_str()),
        (0, "223320251000000001 979686\n")
    );
    assert_eq!(cli::draw("s", &["12".into()], false).exit_code, 1);
}

#[test]
fn draw_command_repeats_the_lane_with_the_published_rates() {
    let numbers = [
        "223320251000000001".to_owned(),
        "020220080525641690".to_owned(),
    ];
    // Draws 979,686 and 342,147 (the documented vectors): with red 30 % and yellow 10 %, the
    // first is not sampled and the second goes to document review.
    let rates = ClassRates {
        red_ppm: 300_000,
        yellow_ppm: 100_000,
    };
    let d = cli::draw_with_rates("jinguan-sampling-2025", Some(rates), &numbers, false);
    assert_eq!(
        (d.exit_code, d.stdout.as_str()),
        (
            0,
            "223320251000000001 979686 none\n020220080525641690 342147 yellow\n"
        )
    );
    // A higher red rate puts the second in the red lane; the JSON form carries the rates.
    let rates = ClassRates {
        red_ppm: 400_000,
        yellow_ppm: 0,
    };
    let j: serde_json::Value = serde_json::from_str(
        &cli::draw_with_rates("jinguan-sampling-2025", Some(rates), &numbers, true).stdout,
    )
    .unwrap();
    assert_eq!(j["red_ppm"], 400_000);
    assert_eq!(j["draws"][0]["lane"], "none");
    assert_eq!(j["draws"][1]["lane"], "red");
    assert_eq!(j["draws"][1]["draw_ppm"], 342_147);
    // The lane agrees with the engine's own rule for every number.
    for serial in 0..200 {
        let no = number(serial);
        let out = cli::draw_with_rates("s", Some(rates), &[no.to_string()], false);
        let lane = rates
            .lane_for(draw_ppm("s", &no))
            .map_or("none", |l| l.as_str());
        assert!(
            out.stdout.ends_with(&format!(" {lane}\n")),
            "{}",
            out.stdout
        );
    }
    // Rates over 100 % are refused.
    let bad = ClassRates {
        red_ppm: 700_000,
        yellow_ppm: 400_000,
    };
    let out = cli::draw_with_rates("s", Some(bad), &numbers, false);
    assert_eq!(out.exit_code, 1);
    assert!(out.stdout.contains("1100000 ppm"), "{}", out.stdout);
}
