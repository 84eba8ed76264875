//! The agents' `/files/read` and `/files/browse` over real HTTP, at the
//! address the offers' `url` gives: Mesos 1.11's offsets, lengths, size
//! answer, read cap, status codes, and no way out of a sandbox.

mod common;

use common::*;
use mesos::types::*;
use serde_json::Value;

/// Launches `command` as task `id`, waits until it finished, and returns
/// the base URL of its agent (from the offer) and the framework id.
async fn finished_task(master: &TestMaster, id: &str, command: &str) -> (String, String) {
    let sub = subscribe(master, framework_info("files")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let fid = caller.framework_id().value.clone();
    let offer = launch(&caller, &mut events, |agent| vec![shell_task(id, agent, command)]).await;
    loop {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state == TaskState::TaskFinished {
            break;
        }
        assert!(!status.state.is_terminal(), "the task failed: {status:?}");
    }
    let url = offer.url.expect("an offer names its agent's URL");
    let ip = url.address.ip.expect("an ip");
    let base = format!("{}://{ip}:{}", url.scheme, url.address.port);
    (base, fid)
}

async fn get(url: &str) -> (u16, Vec<u8>) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

async fn get_json(url: &str) -> Value {
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

#[tokio::test]
async fn read_answers_ranges_the_size_and_mesos_errors() {
    let master = start().await;
    let (base, fid) = finished_task(
        &master,
        "printer",
        "printf 'one\\ntwo\\nthree\\n'; printf 'oops\\n' >&2; head -c 100000 /dev/zero | tr '\\0' x > big",
    )
    .await;
    let sandbox = format!("/frameworks/{fid}/executors/printer/runs/latest");
    let read = |file: &str, query: &str| format!("{base}/files/read?path={sandbox}/{file}{query}");

    assert_eq!(
        get_json(&read("stdout", "&offset=0")).await,
        serde_json::json!({"data": "one\ntwo\nthree\n", "offset": 0})
    );
    assert_eq!(
        get_json(&read("stderr", "&offset=0")).await,
        serde_json::json!({"data": "oops\n", "offset": 0})
    );
    assert_eq!(
        get_json(&read("stdout", "&offset=4&length=3")).await,
        serde_json::json!({"data": "two", "offset": 4}),
        "a range"
    );
    assert_eq!(
        get_json(&read("stdout", "&offset=-1")).await,
        serde_json::json!({"data": "", "offset": 14}),
        "offset -1 answers the size"
    );
    assert_eq!(
        get_json(&read("stdout", "")).await,
        serde_json::json!({"data": "", "offset": 14}),
        "no offset is offset -1"
    );
    assert_eq!(
        get_json(&read("stdout", "&offset=100")).await,
        serde_json::json!({"data": "", "offset": 100}),
        "past the end: nothing, at the offset asked"
    );
    assert_eq!(
        get_json(&read("stdout", "&offset=0&length=-1")).await["data"],
        "one\ntwo\nthree\n",
        "length -1 reads to the end"
    );

    let capped = get_json(&read("big", "&offset=0")).await;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("a page size");
    assert_eq!(
        capped["data"].as_str().map(str::len),
        Some(16 * page),
        "16 pages at most"
    );
    let rest = get_json(&read("big", "&offset=99990&length=100000")).await;
    assert_eq!(rest["data"], "xxxxxxxxxx");

    for (query, why) in [
        ("&offset=x", "Failed to parse offset"),
        ("&offset=-2", "Negative offset provided: -2."),
        ("&offset=0&length=-2", "Negative length provided: -2."),
        ("&offset=0&length=y", "Failed to parse length"),
    ] {
        let (status, body) = get(&read("stdout", query)).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }
    let (status, body) = get(&format!("{base}/files/read")).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (400, "Expecting 'path=value' in query.\n")
    );
    let (status, body) = get(&format!("{base}/files/read?path={sandbox}&offset=0")).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (400, "Cannot read a directory.\n")
    );

    for unknown in [
        format!("{sandbox}/nope"),
        format!("/frameworks/{fid}/executors/other/runs/latest/stdout"),
        "/frameworks/nope/executors/printer/runs/latest/stdout".to_string(),
        format!("/frameworks/{fid}/executors/printer/runs/1/stdout"),
        "/slave/log".to_string(),
    ] {
        let (status, body) = get(&format!("{base}/files/read?path={unknown}&offset=0")).await;
        assert_eq!((status, body.len()), (404, 0), "{unknown}");
    }

    for escape in [
        format!("{sandbox}/../../../../../../../../../../etc/passwd"),
        format!("{sandbox}/.."),
        format!("{sandbox}/../../../printer"),
    ] {
        let (status, body) = get(&format!("{base}/files/read?path={escape}&offset=0")).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{escape}: {body}");
        assert!(body.contains("is inaccessible"), "{escape}: {body}");
    }
    // `..` that stays inside the sandbox is fine, as in Mesos.
    assert_eq!(
        get_json(&read("./../latest/stdout", "&offset=0&length=3")).await["data"],
        "one"
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn data_is_the_bytes_escaped_as_mesos_writes_them() {
    let master = start().await;
    let (base, fid) = finished_task(&master, "bytes", "printf 'a/b\"c\\\\\\001\\377\\n'").await;
    let url = format!("{base}/files/read?path=/frameworks/{fid}/executors/bytes/runs/latest/stdout&offset=0");
    let (status, body) = get(&url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        b"{\"data\":\"a\\/b\\\"c\\\\\\u0001\xff\\n\",\"offset\":0}".to_vec(),
        "{}",
        String::from_utf8_lossy(&body)
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn browse_lists_a_sandbox() {
    let master = start().await;
    let (base, fid) = finished_task(&master, "lister", "echo hi; mkdir sub").await;
    let sandbox = format!("/frameworks/{fid}/executors/lister/runs/latest");
    let listing = get_json(&format!("{base}/files/browse?path={sandbox}")).await;
    let entries = listing.as_array().expect("a list");
    let paths: Vec<&str> = entries.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("{sandbox}/stderr"),
            format!("{sandbox}/stdout"),
            format!("{sandbox}/sub"),
        ]
    );
    let stdout = &entries[1];
    assert_eq!(stdout["size"], 3);
    assert_eq!(stdout["nlink"], 1);
    assert!(
        stdout["mode"].as_str().is_some_and(|m| m.starts_with("-rw")),
        "{stdout}"
    );
    assert!(entries[2]["mode"].as_str().is_some_and(|m| m.starts_with('d')));
    for key in ["gid", "uid", "mtime"] {
        assert!(!stdout[key].is_null(), "{key} in {stdout}");
    }

    assert_eq!(
        get_json(&format!("{base}/files/browse?path={sandbox}/stdout")).await,
        serde_json::json!([]),
        "a file lists nothing"
    );
    let (status, _) = get(&format!(
        "{base}/files/browse?path=/frameworks/{fid}/executors/x/runs/latest"
    ))
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&format!("{base}/files/browse?path={sandbox}/../..")).await;
    assert_eq!(status, 400);
    let (status, _) = get(&format!("{base}/files/browse")).await;
    assert_eq!(status, 400);
    master.mesos.shutdown().await;
}
