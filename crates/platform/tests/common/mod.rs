//! What the platform tests share: the upper platform's side of a link, written with the codec.

use tianshu_jt809::{Codec, Edition, ForVehicle, LoginAnswer, Message, UpExg};
use tianshu_platform::UpperPlatform;
use tianshu_platform::sublink::framed::Framed;
use tokio::net::TcpListener;

/// The upper platform `name` listening at `listener`: access code 4200, user 77, covering unit "City",
/// a point forwarded once it is a second old.
pub fn upper_at(listener: &TcpListener, name: &str) -> UpperPlatform {
    UpperPlatform {
        password: "pw123456".into(),
        settle_secs: 1,
        ..UpperPlatform::new(
            name,
            &listener.local_addr().expect("addr").to_string(),
            4200,
            77,
            &["City"],
        )
    }
}

/// The city's main link accepted at `listener`, framed as [`upper_at`]'s platform speaks (2011).
pub async fn accept(listener: &TcpListener) -> Framed {
    let (stream, _) = listener.accept().await.expect("the link");
    Framed::new(stream, Codec::new(Edition::V2011), 4200)
}

/// The upper platform's side: answers a login and a keep-alive; the positions a message carries.
pub async fn answer(link: &mut Framed, message: Message) -> usize {
    match message {
        Message::Login(_) => {
            let ok = LoginAnswer {
                result: 0,
                verify_code: 1,
            };
            link.send(&Message::LoginAnswer(ok)).await.expect("answering");
            0
        }
        Message::KeepAlive => {
            link.send(&Message::KeepAliveAnswer).await.expect("answering");
            0
        }
        Message::UpExg(ForVehicle { data, .. }) => match data {
            UpExg::RealLocation(_) => 1,
            UpExg::HistoryLocation(g) => g.len(),
            _ => 0,
        },
        _ => 0,
    }
}
