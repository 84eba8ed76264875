use proptest::prelude::*;

use super::*;

#[test]
fn resources_in_the_agent_syntax() {
    let parsed = parse_resources("--node-resources", "cpus:4;mem:8192;disk:20480;ports:[31000-31999]").unwrap();
    assert_eq!(
        parsed,
        NodeResources {
            cpus: Some(4.0),
            mem: Some(8192.0),
            disk: Some(20480.0),
            ports: Some(vec![31000..=31999]),
        }
    );
    let parsed = parse_resources("f", "cpus(*):0.5; ports:[32000-32009, 31000-31009];").unwrap();
    assert_eq!(parsed.cpus, Some(0.5));
    assert_eq!(parsed.ports, Some(vec![31000..=31009, 32000..=32009]));
}

#[test]
fn bad_resources_name_the_flag_and_the_part() {
    let message = |text: &str| parse_resources("--node-resources", text).unwrap_err().to_string();
    assert_eq!(
        message("cpus:4;mem:lots"),
        "--node-resources \"cpus:4;mem:lots\": `mem:lots`: mem must be a non-negative number"
    );
    assert!(message("gpus:1").contains("`gpus:1`: unknown resource \"gpus\""));
    assert!(message("cpus(web):1").contains("reserved resources are not supported"));
    assert!(message("ports:31000-32000").contains("ranges in brackets"));
    assert!(message("ports:[32000-31000]").contains("begins after it ends"));
    assert!(message("ports:[31000-31010,31005-31020]").contains("overlaps 31000-31010"));
    assert!(message("ports:[31000-70000]").contains("\"70000\" in range \"31000-70000\" is not a port"));
    assert!(message("cpus:1;cpus:2").contains("cpus is given twice"));
    assert!(message("cpus").contains("`cpus`: expected NAME:VALUE"));
}

#[test]
fn attributes_in_the_agent_syntax() {
    let parsed = parse_attributes("--node-attributes", "rack:r1;zone:west").unwrap();
    assert_eq!(parsed.get("rack").map(String::as_str), Some("r1"));
    assert_eq!(parsed.get("zone").map(String::as_str), Some("west"));
    let message = |text: &str| parse_attributes("--node-attributes", text).unwrap_err().to_string();
    assert!(message("rack").contains("`rack`: expected NAME:VALUE"));
    assert!(message("rack:r1;rack:r2").contains("attribute \"rack\" is given twice"));
    assert!(message("keys:[1-2]").contains("range and set attributes are not supported"));
    assert!(message("rack:r 1").contains("' ' is not allowed"));
}

#[test]
fn one_node_in_one_string() {
    let spec = parse_node(
        "--node",
        "name=edge-1;resources=cpus:2;mem:1024;ports:[40000-40009];attributes=rack:r1;zone:west",
    )
    .unwrap();
    assert_eq!(spec.name.as_deref(), Some("edge-1"));
    assert_eq!(spec.resources.cpus, Some(2.0));
    assert_eq!(spec.resources.mem, Some(1024.0));
    assert_eq!(spec.resources.ports, Some(vec![40000..=40009]));
    assert_eq!(spec.attributes.len(), 2);
    let simulated = parse_node(
        "--node",
        "name=sim;containerizer=simulated;simulate=start-delay:1s,exit-code:2",
    )
    .unwrap();
    assert_eq!(simulated.containerizer, Some(ContainerizerKind::Simulated));
    assert_eq!(simulated.simulation.and_then(|s| s.exit_code), Some(2));
    let message = |text: &str| parse_node("--node", text).unwrap_err().to_string();
    assert!(message("containerizer=vm").contains("unknown containerizer \"vm\"; expected one of process, simulated"));
    assert!(message("simulate=speed:1").starts_with("--node simulate \"speed:1\": `speed:1`: unknown simulation key"));
    assert!(message("name=a;size=big").contains("unknown key \"size\""));
    assert!(message("name=a b").contains("' ' is not allowed in a node's name"));
    assert!(message("name=a;name=b").contains("name is given twice"));
    assert!(message("cpus:1").contains("expected KEY=VALUE"));
    assert!(message("resources=cpus:x").starts_with("--node resources \"cpus:x\": `cpus:x`"));
}

#[test]
fn nodes_from_all_the_flags() {
    let flags = NodeFlags {
        count: Some(3),
        resources: Some("cpus:2;ports:[31000-31099]".to_string()),
        attributes: Some("zone:west".to_string()),
        mem: Some(512.0),
        ..NodeFlags::default()
    };
    let nodes = flags.build().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.hostname.as_str()).collect();
    assert_eq!(names, ["node-1", "node-2", "node-3"]);
    assert!(
        nodes
            .iter()
            .all(|n| n.cpus == 2.0 && n.mem == 512.0 && n.ports == vec![31000..=31099])
    );
    assert!(
        nodes
            .iter()
            .all(|n| n.attributes.get("zone").map(String::as_str) == Some("west"))
    );

    // One node keeps the name a single agent has always had.
    assert_eq!(NodeFlags::default().build().unwrap()[0].hostname, "localhost");

    let flags = NodeFlags {
        attributes: Some("zone:west".to_string()),
        nodes: vec![
            "name=a;attributes=rack:r1".to_string(),
            "resources=cpus:1;attributes=zone:east".to_string(),
        ],
        ..NodeFlags::default()
    };
    let nodes = flags.build().unwrap();
    assert_eq!(nodes[0].hostname, "a");
    assert_eq!(nodes[0].attributes.get("rack").map(String::as_str), Some("r1"));
    assert_eq!(nodes[0].attributes.get("zone").map(String::as_str), Some("west"));
    assert_eq!(nodes[1].hostname, "node-2");
    assert_eq!(nodes[1].cpus, 1.0);
    assert_eq!(nodes[1].attributes.get("zone").map(String::as_str), Some("east"));
}

#[test]
fn conflicting_node_flags_are_refused() {
    let error = |flags: NodeFlags| flags.build().unwrap_err().to_string();
    assert!(
        error(NodeFlags {
            cpus: Some(1.0),
            resources: Some("cpus:2".to_string()),
            ..NodeFlags::default()
        })
        .contains("cpus is also set by --node-cpus")
    );
    assert!(
        error(NodeFlags {
            count: Some(2),
            nodes: vec!["name=a".to_string()],
            ..NodeFlags::default()
        })
        .contains("cannot be combined with --node")
    );
    assert!(
        error(NodeFlags {
            nodes: vec!["name=a".to_string(), "name=a".to_string()],
            ..NodeFlags::default()
        })
        .contains("a node named \"a\" is already given")
    );
    assert!(
        error(NodeFlags {
            count: Some(0),
            ..NodeFlags::default()
        })
        .starts_with("--nodes \"0\": must be between 1")
    );
    assert!(
        error(NodeFlags {
            ports: Some("9-1".to_string()),
            ..NodeFlags::default()
        })
        .starts_with("--node-ports \"9-1\"")
    );
}

fn ranges() -> impl Strategy<Value = Vec<(u16, u16)>> {
    proptest::collection::btree_set(0u16..600, 1..6).prop_map(|starts| {
        // Disjoint ranges: each starts at a multiple of 100 and spans < 100.
        starts
            .into_iter()
            .map(|s| s % 600)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|s| (s * 100, s * 100 + s % 97))
            .collect()
    })
}

proptest! {
    #[test]
    fn written_resources_parse_back(
        cpus in 0u32..100_000,
        mem in 0u32..10_000_000,
        disk in 0u32..10_000_000,
        ports in ranges(),
    ) {
        let cpus = f64::from(cpus) / 1000.0;
        let text = format!(
            "cpus:{cpus};mem:{mem};disk:{disk};ports:[{}]",
            ports.iter().map(|(b, e)| format!("{b}-{e}")).collect::<Vec<_>>().join(",")
        );
        let parsed = parse_resources("--node-resources", &text).unwrap();
        prop_assert_eq!(parsed.cpus, Some(cpus));
        prop_assert_eq!(parsed.mem, Some(f64::from(mem)));
        prop_assert_eq!(parsed.disk, Some(f64::from(disk)));
        let expected: Vec<RangeInclusive<u16>> = ports.iter().map(|&(b, e)| b..=e).collect();
        prop_assert_eq!(parsed.ports, Some(expected));
    }

    #[test]
    fn any_text_is_parsed_or_refused_with_the_flag_named(text in "[a-z:;=\\[\\]{}()*0-9,. -]{0,40}") {
        if let Err(e) = parse_resources("--node-resources", &text) {
            prop_assert!(e.to_string().starts_with("--node-resources "));
        }
        if let Err(e) = parse_attributes("--node-attributes", &text) {
            prop_assert!(e.to_string().starts_with("--node-attributes "));
        }
        if let Err(e) = parse_node("--node", &text) {
            prop_assert!(e.to_string().starts_with("--node"));
        }
    }

    #[test]
    fn written_attributes_parse_back(pairs in proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", "[a-zA-Z0-9_./-]{1,12}", 0..6)) {
        prop_assume!(pairs.values().all(|v| !v.starts_with('[') && !v.starts_with('{')));
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let parsed = parse_attributes("--node-attributes", &text.join(";")).unwrap();
        prop_assert_eq!(parsed, pairs);
    }
}
