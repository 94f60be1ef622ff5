//! Tianshu as upper platform opening the sub-link back to a lower platform written with the codec, over
//! real TCP: the login's verify code presented, down messages on the sub-link while it is up and on the
//! main link otherwise, a broken sub-link reported on the main link (0x9007) and opened again, both links
//! closed on logout.

use std::time::Duration;

use tianshu_ingest::uplink::UplinkConfig;
use tianshu_jt809::{Codec, Edition, Login, LoginAnswer, Logout, Message, TotalReceived};
use tianshu_platform::sublink::framed::Framed;
use tianshu_platform::{Jt809Config, LowerPlatform, Upper, run};
use tianshu_store::StoreConfig;
use tianshu_testkit::{Scratch, unique, wait_until};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);
const ACCESS_CODE: u32 = 4300;

fn down_message(total: u32) -> Message {
    Message::TotalReceived(TotalReceived {
        total,
        start_utc: 1_796_000_000,
        end_utc: 1_796_000_060,
    })
}

/// The next message on `link` other than a sub-link keep-alive (answered).
async fn next(link: &mut Framed) -> Message {
    loop {
        match link.next(Instant::now() + LIMIT).await.expect("a message") {
            Message::SubKeepAlive => link.send(&Message::SubKeepAliveAnswer).await.expect("answering"),
            m => return m,
        }
    }
}

/// Accepts the province's sub-link and takes its login, which must carry `verify_code`.
async fn accept_sub(listener: &TcpListener, verify_code: u32) -> Framed {
    let (stream, _) = tokio::time::timeout(LIMIT, listener.accept())
        .await
        .expect("the province to connect back")
        .expect("accepting");
    let mut sub = Framed::new(stream, Codec::new(Edition::V2011), ACCESS_CODE);
    assert_eq!(next(&mut sub).await, Message::SubLogin { verify_code });
    sub.send(&Message::SubLoginAnswer { result: 0 })
        .await
        .expect("answering");
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_messages_take_the_sub_link_while_it_is_up_and_the_main_link_otherwise() {
    let scratch = Scratch::embedded("jt809_sublink");
    let store = scratch.open(&StoreConfig::default()).await;
    let peer = unique("city");
    let config = Jt809Config {
        listen: "127.0.0.1:0".into(),
        sub_link_keepalive_secs: 1,
        sub_link_reconnect_min_backoff_ms: 50,
        lower: vec![LowerPlatform {
            password: "pw123456".into(),
            ..LowerPlatform::new(&peer, ACCESS_CODE, 77, &["City"])
        }],
        ..Jt809Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let addr = listener.local_addr().expect("the address");
    let shutdown = CancellationToken::new();
    let upper = Upper::new(config, store, UplinkConfig::default());
    tokio::spawn(run(listener, upper.clone(), shutdown.clone()));

    let sub_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the sub-link listener");
    let stream = TcpStream::connect(addr).await.expect("connecting");
    let mut main = Framed::new(stream, Codec::new(Edition::V2011), ACCESS_CODE);
    let login = Login {
        user_id: 77,
        password: "pw123456".into(),
        center_id: 0,
        down_link_ip: "127.0.0.1".into(),
        down_link_port: sub_listener.local_addr().expect("its address").port(),
    };
    main.send(&Message::Login(login)).await.expect("logging in");
    let Message::LoginAnswer(LoginAnswer {
        result: 0,
        verify_code,
    }) = next(&mut main).await
    else {
        panic!("the login was refused");
    };

    let mut sub = accept_sub(&sub_listener, verify_code).await;
    let down = upper.down(&peer).expect("the peer's way down");
    wait_until("the sub-link up", LIMIT, || async { down.sub_up() }).await;
    assert_eq!(down.send(down_message(1)).await.expect("sent"), "sub");
    assert_eq!(next(&mut sub).await, down_message(1));

    // The sub-link breaks: the main link carries the notice, then the down messages.
    drop(sub);
    assert_eq!(
        next(&mut main).await,
        Message::SubDisconnectInform { reason_code: 1 }
    );
    assert!(!down.sub_up());
    assert_eq!(down.send(down_message(2)).await.expect("sent"), "main");
    assert_eq!(next(&mut main).await, down_message(2));

    // It is opened again with the same verify code and carries the down messages again.
    let mut sub = accept_sub(&sub_listener, verify_code).await;
    wait_until("the sub-link up again", LIMIT, || async { down.sub_up() }).await;
    assert_eq!(down.send(down_message(3)).await.expect("sent"), "sub");
    assert_eq!(next(&mut sub).await, down_message(3));

    // A logout closes both links.
    main.send(&Message::Logout(Logout {
        user_id: 77,
        password: "pw123456".into(),
    }))
    .await
    .expect("logging out");
    assert_eq!(next(&mut main).await, Message::LogoutAnswer);
    loop {
        match sub.next(Instant::now() + LIMIT).await {
            Ok(Message::SubKeepAlive) => {}
            Ok(other) => panic!("unexpected {other:?} on the sub-link after the logout"),
            Err(e) => {
                assert!(e.to_string().starts_with("link"), "the sub-link closed, not {e}");
                break;
            }
        }
    }
    shutdown.cancel();
}
