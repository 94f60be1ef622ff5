//! What the platform tests share: the upper platform's side of a link, written with the codec.

use tianshu_jt809::{ForVehicle, LoginAnswer, Message, UpExg};
use tianshu_platform::sublink::framed::Framed;

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
