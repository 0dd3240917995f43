//! `tally serve` with no database URL runs on a private PostgreSQL it creates, starts and stops itself.

use crate::harness::{get_json, process_is_alive, DataDir, TallyProcess};

#[tokio::test]
async fn serve_creates_starts_and_stops_its_private_cluster() {
    let data_dir = DataDir::new();
    let (server, base) = TallyProcess::serve(&["--data-dir", data_dir.arg()]);

    let (status, body) = get_json(&format!("{base}/healthz")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!((status, body["database"].as_str()), (200, Some("ok")));
    let postgres = data_dir.postgres_pid().expect("a PostgreSQL server runs on the data directory");

    let exit = server.terminate();
    assert!(exit.success(), "tally exited with {exit}");
    assert!(!process_is_alive(postgres), "the PostgreSQL server {postgres} outlived tally");
    assert!(data_dir.postgres_pid().is_none());
}

#[tokio::test]
async fn a_second_serve_on_the_same_data_dir_shares_the_cluster_and_leaves_it_to_its_owner() {
    let data_dir = DataDir::new();
    let (first, first_base) = TallyProcess::serve(&["--data-dir", data_dir.arg()]);
    let postgres = data_dir.postgres_pid().expect("the first serve started PostgreSQL");

    let (second, second_base) = TallyProcess::serve(&["--data-dir", data_dir.arg()]);
    assert_eq!(get_json(&format!("{second_base}/readyz")).await.0, 200);
    assert_eq!(data_dir.postgres_pid(), Some(postgres), "the second serve attached to the same server");

    assert!(second.terminate().success());
    assert!(process_is_alive(postgres), "the guest must not stop the owner's cluster");
    assert_eq!(get_json(&format!("{first_base}/readyz")).await.0, 200);

    assert!(first.terminate().success());
    assert!(!process_is_alive(postgres), "the owner stops the cluster");
}

#[tokio::test]
async fn a_cluster_left_behind_by_a_killed_serve_is_adopted_by_the_next_one() {
    let data_dir = DataDir::new();
    let (first, _) = TallyProcess::serve(&["--data-dir", data_dir.arg()]);
    let postgres = data_dir.postgres_pid().expect("PostgreSQL started");
    drop(first); // SIGKILL: no chance to stop the cluster

    assert!(process_is_alive(postgres), "PostgreSQL survives its owner's crash");
    let (second, base) = TallyProcess::serve(&["--data-dir", data_dir.arg()]);
    assert_eq!(get_json(&format!("{base}/readyz")).await.0, 200);
    assert_eq!(data_dir.postgres_pid(), Some(postgres), "the restarted serve reuses the running server");

    assert!(second.terminate().success());
    assert!(!process_is_alive(postgres), "the adopter stops the cluster it adopted");
}

#[tokio::test]
async fn an_unreachable_event_store_is_a_clear_error_and_the_private_cluster_is_stopped() {
    let data_dir = DataDir::new();
    // Nothing listens on port 1.
    let server = TallyProcess::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.arg(),
        "--event-store-url",
        "esdb://127.0.0.1:1?tls=false",
    ]);
    let (status, lines) = server.wait_for_exit();
    assert!(!status.success(), "serve must fail without its event store");
    let error = lines.iter().find(|line| line.starts_with("tally: ")).expect("a plain error line");
    assert!(error.contains("KurrentDB"), "the error names what failed: {error}");
    assert!(data_dir.postgres_pid().is_none(), "the private cluster was stopped on the way out");
}
