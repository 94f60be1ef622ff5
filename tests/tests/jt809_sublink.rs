//! The JT/T 809 sub-link (从链路) between two real binaries on loopback: a city logs in to its province on
//! the main link, naming its sub-link address; the province connects back and logs in with the verify
//! code. Both links run through relays the test cuts: a cut sub-link is reported on the main link (0x9007)
//! and opened again; a cut main link is reported on the sub-link (0x1007) and logged in again, with a new
//! sub-link.

use std::net::SocketAddr;
use std::time::Duration;

use tianshu_e2e::relay::Relay;
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_until};
use tianshu_testkit::nats::free_port;

const LIMIT: Duration = Duration::from_secs(60);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn province_toml(jt809: SocketAddr) -> String {
    format!(
        "[jt809]\nlisten = \"{jt809}\"\nsub_link_keepalive_secs = 1\nsub_link_reconnect_min_backoff_ms = 100\n\
         sub_link_reconnect_max_backoff_ms = 500\n\n[[jt809.lower]]\nname = \"huangshi\"\naccess_code = 4200\n\
         user_id = 77\npassword = \"pw123456\"\nunits = [\"黄石市\"]\n"
    )
}

/// The city logs in through `main` and listens for the sub-link at `listen`, naming `named` in its login.
fn city_toml(main: SocketAddr, listen: SocketAddr, named: SocketAddr) -> String {
    format!(
        "[[upper]]\nname = \"province\"\naddress = \"{main}\"\naccess_code = 4200\nuser_id = 77\n\
         password = \"pw123456\"\nunits = [\"黄石市\"]\nkeepalive_secs = 1\npoll_ms = 100\n\
         reconnect_min_backoff_ms = 1000\nreconnect_max_backoff_ms = 2000\n\
         sub_link_listen = \"{listen}\"\nsub_link_address = \"{named}\"\n"
    )
}

/// Waits until `instance`'s metric `name` with `labels` reaches `at_least`.
async fn reaches(what: &str, instance: &Tianshu, name: &str, labels: &str, at_least: f64) {
    wait_until(what, LIMIT, || async {
        instance.metric(name, labels).await >= at_least
    })
    .await;
}

/// Both ends see both links up.
async fn both_links_up(province: &Tianshu, city: &Tianshu) {
    for (instance, peer) in [(province, "huangshi"), (city, "province")] {
        for link in ["sub", if peer == "province" { "upper" } else { "main" }] {
            let labels = format!("link=\"{link}\",peer=\"{peer}\"");
            wait_until(&format!("{link} link up at {peer}'s peer"), LIMIT, || async {
                instance.metric("tianshu_jt809_link_up", &labels).await == 1.0
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_sub_link_or_main_link_is_reported_on_the_other_and_comes_back() {
    let dir = ScratchDir::new("jt809_sublink");
    let (city_db, province_db) = (
        Scratch::embedded("sublink_city"),
        Scratch::embedded("sublink_province"),
    );
    let jt809 = loopback(free_port());
    let sub_listen = loopback(free_port());
    let main_relay = Relay::start(jt809).await;
    let sub_relay = Relay::start(sub_listen).await;
    let province = Tianshu::start(&province_db.url(), &province_toml(jt809), &[], dir.path());
    let city = Tianshu::start(
        &city_db.url(),
        &city_toml(main_relay.addr, sub_listen, sub_relay.addr),
        &[],
        dir.path(),
    );
    both_links_up(&province, &city).await;
    let logins = "tianshu_jt809_sub_logins_total";
    assert_eq!(province.metric(logins, "result=\"ok\",side=\"upper\"").await, 1.0);
    assert_eq!(city.metric(logins, "result=\"ok\",side=\"lower\"").await, 1.0);

    // The sub-link cut: the province tells the city on the main link and opens it again.
    sub_relay.cut();
    let notices = "tianshu_jt809_link_notices_total";
    reaches(
        "the province to send 0x9007",
        &province,
        notices,
        "notice=\"sub_down_sent\"",
        1.0,
    )
    .await;
    reaches(
        "the city to receive 0x9007",
        &city,
        notices,
        "notice=\"sub_down\",peer=\"province\"",
        1.0,
    )
    .await;
    reaches(
        "the sub-link logged in again",
        &province,
        logins,
        "result=\"ok\",side=\"upper\"",
        2.0,
    )
    .await;
    both_links_up(&province, &city).await;
    assert_eq!(
        city.metric("tianshu_jt809_links_closed_total", "reason=\"upper_link\"")
            .await,
        0.0,
        "the main link stayed up while the sub-link was cut"
    );

    // The main link cut: the city tells the province on the sub-link, logs in again, and the province
    // opens a new sub-link with the new verify code.
    main_relay.cut();
    reaches(
        "the city to send 0x1007",
        &city,
        notices,
        "notice=\"main_down_sent\"",
        1.0,
    )
    .await;
    reaches(
        "the province to receive 0x1007",
        &province,
        notices,
        "notice=\"main_down\",peer=\"huangshi\"",
        1.0,
    )
    .await;
    reaches(
        "the city to log in again",
        &province,
        "tianshu_jt809_logins_total",
        "result=\"ok\"",
        2.0,
    )
    .await;
    reaches(
        "a new sub-link",
        &city,
        logins,
        "result=\"ok\",side=\"lower\"",
        3.0,
    )
    .await;
    both_links_up(&province, &city).await;
    assert_eq!(
        city.metric(logins, "result=\"bad_verify_code\"").await,
        0.0,
        "every sub-link login carried the current verify code"
    );
}
