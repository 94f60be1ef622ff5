//! The names of the demo world: the unit tree of a prefecture-level city, its streets and places.
//!
//! Huangshi (黄石市) has four districts, a county-level city (大冶市), a county (阳新县) and a development
//! zone; the units below follow the usual shape of a city's party and government organs. Names are
//! plausible, not a claim about any real office's fleet.

use crate::world::VehicleClassMix;

/// Where a unit's office sits: in the city core or in one of the towns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    /// The central urban grid.
    City,
    /// A town by index into [`TOWNS`].
    Town(usize),
}

/// A unit in the template tree: name, parent (index into the same table), seat, relative fleet size
/// and which special classes its cars carry.
pub struct UnitTemplate {
    /// The unit's name.
    pub name: &'static str,
    /// Index of the parent in [`UNITS`]; `None` only for the root.
    pub parent: Option<usize>,
    /// Where its office and depot are.
    pub seat: Seat,
    /// Relative number of cars (the fleet is split in proportion).
    pub weight: u32,
    /// The classes its cars get besides `general`.
    pub mix: VehicleClassMix,
}

const fn u(
    name: &'static str,
    parent: Option<usize>,
    seat: Seat,
    weight: u32,
    mix: VehicleClassMix,
) -> UnitTemplate {
    UnitTemplate {
        name,
        parent,
        seat,
        weight,
        mix,
    }
}

use Seat::City;
const fn town(i: usize) -> Seat {
    Seat::Town(i)
}
use VehicleClassMix::{Confidential, Emergency, General, LawEnforcement, Special};

/// The unit tree, parents before children (index 0 is the root).
pub const UNITS: &[UnitTemplate] = &[
    u("黄石市", None, City, 4, General),                           // 0
    u("市委办公室", Some(0), City, 12, Confidential),              // 1
    u("市人大常委会办公室", Some(0), City, 8, General),            // 2
    u("市政府办公室", Some(0), City, 12, Confidential),            // 3
    u("市政协办公室", Some(0), City, 7, General),                  // 4
    u("市纪委监委", Some(0), City, 12, LawEnforcement),            // 5
    u("市委组织部", Some(0), City, 6, General),                    // 6
    u("市委宣传部", Some(0), City, 5, General),                    // 7
    u("市委统战部", Some(0), City, 4, General),                    // 8
    u("市委政法委", Some(0), City, 5, General),                    // 9
    u("市公安局", Some(0), City, 20, LawEnforcement),              // 10
    u("交警支队", Some(10), City, 30, LawEnforcement),             // 11
    u("治安支队", Some(10), City, 12, LawEnforcement),             // 12
    u("刑侦支队", Some(10), City, 14, LawEnforcement),             // 13
    u("特警支队", Some(10), City, 14, Emergency),                  // 14
    u("黄石港分局", Some(10), City, 12, LawEnforcement),           // 15
    u("西塞山分局", Some(10), City, 12, LawEnforcement),           // 16
    u("下陆分局", Some(10), City, 10, LawEnforcement),             // 17
    u("铁山分局", Some(10), City, 8, LawEnforcement),              // 18
    u("市发展和改革委员会", Some(0), City, 8, General),            // 19
    u("市教育局", Some(0), City, 7, General),                      // 20
    u("市科学技术局", Some(0), City, 4, General),                  // 21
    u("市经济和信息化局", Some(0), City, 6, General),              // 22
    u("市民政局", Some(0), City, 6, General),                      // 23
    u("市司法局", Some(0), City, 6, LawEnforcement),               // 24
    u("市财政局", Some(0), City, 8, General),                      // 25
    u("市人力资源和社会保障局", Some(0), City, 6, General),        // 26
    u("市自然资源和规划局", Some(0), City, 9, Special),            // 27
    u("市生态环境局", Some(0), City, 6, Special),                  // 28
    u("环境监察支队", Some(28), City, 8, LawEnforcement),          // 29
    u("市住房和城乡建设局", Some(0), City, 8, General),            // 30
    u("市交通运输局", Some(0), City, 7, General),                  // 31
    u("交通运输综合执法支队", Some(31), City, 14, LawEnforcement), // 32
    u("市水利和湖泊局", Some(0), City, 7, Special),                // 33
    u("市农业农村局", Some(0), City, 7, General),                  // 34
    u("市商务局", Some(0), City, 5, General),                      // 35
    u("市文化和旅游局", Some(0), City, 5, General),                // 36
    u("市卫生健康委员会", Some(0), City, 6, General),              // 37
    u("市疾病预防控制中心", Some(37), City, 8, Special),           // 38
    u("市急救中心", Some(37), City, 16, Emergency),                // 39
    u("市退役军人事务局", Some(0), City, 4, General),              // 40
    u("市应急管理局", Some(0), City, 8, Emergency),                // 41
    u("市消防救援支队", Some(41), City, 16, Emergency),            // 42
    u("市审计局", Some(0), City, 5, General),                      // 43
    u("市市场监督管理局", Some(0), City, 8, General),              // 44
    u("市场监管综合执法支队", Some(44), City, 10, LawEnforcement), // 45
    u("市统计局", Some(0), City, 4, General),                      // 46
    u("市医疗保障局", Some(0), City, 4, General),                  // 47
    u("市城市管理执法委员会", Some(0), City, 14, LawEnforcement),  // 48
    u("市林业局", Some(0), City, 5, Special),                      // 49
    u("市机关事务服务中心", Some(0), City, 16, General),           // 50
    u("市信访局", Some(0), City, 4, General),                      // 51
    u("市中级人民法院", Some(0), City, 12, LawEnforcement),        // 52
    u("市人民检察院", Some(0), City, 10, LawEnforcement),          // 53
    u("黄石港区", Some(0), City, 8, General),                      // 54
    u("西塞山区", Some(0), City, 8, General),                      // 55
    u("下陆区", Some(0), City, 7, General),                        // 56
    u("铁山区", Some(0), City, 6, General),                        // 57
    u("黄石经济技术开发区", Some(0), City, 8, General),            // 58
    u("大冶市", Some(0), town(0), 6, General),                     // 59
    u("大冶市委办公室", Some(59), town(0), 8, Confidential),       // 60
    u("大冶市政府办公室", Some(59), town(0), 8, General),          // 61
    u("大冶市公安局", Some(59), town(0), 18, LawEnforcement),      // 62
    u("大冶市自然资源和规划局", Some(59), town(0), 6, Special),    // 63
    u("大冶市卫生健康局", Some(59), town(0), 6, Emergency),        // 64
    u("阳新县", Some(0), town(1), 6, General),                     // 65
    u("阳新县委办公室", Some(65), town(1), 8, Confidential),       // 66
    u("阳新县政府办公室", Some(65), town(1), 8, General),          // 67
    u("阳新县公安局", Some(65), town(1), 16, LawEnforcement),      // 68
    u("阳新县交通运输局", Some(65), town(1), 6, General),          // 69
    u("阳新县应急管理局", Some(65), town(1), 6, Emergency),        // 70
    u("阳新县水利和湖泊局", Some(65), town(1), 5, Special),        // 71
    u("市公共资源交易中心", Some(0), City, 4, General),            // 72
    u("市档案馆", Some(0), City, 3, Confidential),                 // 73
    u("市保密局", Some(1), City, 4, Confidential),                 // 74
];

/// A town outside the urban grid: name, offset from the city centre in km (east, north), whether it lies
/// inside the permitted region.
pub struct Town {
    /// Name.
    pub name: &'static str,
    /// Kilometres east of the city centre.
    pub east_km: f64,
    /// Kilometres north of the city centre.
    pub north_km: f64,
    /// Inside the permitted region (the outside ones are where region-exit trips go).
    pub inside_region: bool,
}

/// Towns joined to the city by arterial roads. The first two are the seats of 大冶市 and 阳新县.
pub const TOWNS: &[Town] = &[
    Town {
        name: "大冶市区",
        east_km: -6.5,
        north_km: -11.0,
        inside_region: true,
    },
    Town {
        name: "阳新县城",
        east_km: 16.5,
        north_km: -40.0,
        inside_region: true,
    },
    Town {
        name: "金山店镇",
        east_km: -24.0,
        north_km: -6.0,
        inside_region: true,
    },
    Town {
        name: "陈贵镇",
        east_km: -20.0,
        north_km: -22.0,
        inside_region: true,
    },
    Town {
        name: "富池镇",
        east_km: 34.0,
        north_km: -24.0,
        inside_region: true,
    },
    Town {
        name: "还地桥镇",
        east_km: -30.0,
        north_km: -18.0,
        inside_region: true,
    },
    Town {
        name: "鄂州市区",
        east_km: -16.0,
        north_km: 21.0,
        inside_region: false,
    },
    Town {
        name: "武汉市区",
        east_km: -70.0,
        north_km: 43.0,
        inside_region: false,
    },
    Town {
        name: "九江市区",
        east_km: 64.0,
        north_km: -62.0,
        inside_region: false,
    },
];

/// East-west streets of the urban grid, south to north.
pub const EW_STREETS: &[&str] = &[
    "铁山大道",
    "新下陆大道",
    "金山大道",
    "团城山路",
    "杭州西路",
    "桂林北路",
    "颐阳路",
    "磁湖路",
    "天津路",
    "黄石大道",
    "湖滨大道",
    "沿江大道",
];

/// North-south streets of the urban grid, west to east.
pub const NS_STREETS: &[&str] = &[
    "下陆大街",
    "广州路",
    "迎宾大道",
    "武汉路",
    "杭州东路",
    "湛月路",
    "文化宫路",
    "延安路",
    "交通路",
    "上窑路",
    "大泉路",
    "花湖大道",
    "西塞山路",
    "黄思湾路",
    "道士洑路",
];

/// Trip destinations placed on road nodes: (name, kind). Kinds decide which units go there.
pub const DESTINATIONS: &[&str] = &[
    "市政务服务中心",
    "市人民医院",
    "市中心医院",
    "黄石火车站",
    "黄石北站",
    "黄石新港",
    "市会展中心",
    "市图书馆",
    "湖北师范大学",
    "湖北理工学院",
    "市体育中心",
    "市博物馆",
    "下陆工业园",
    "西塞山工业园",
    "黄金山开发区",
    "铁山区政府",
    "下陆区政府",
    "西塞山区政府",
    "黄石港区政府",
    "市行政服务中心",
    "磁湖高新区",
    "花湖开发区",
    "市第二医院",
    "市妇幼保健院",
    "长江大桥南岸",
    "棋盘洲大桥",
    "团城山公园",
    "市法律援助中心",
];

/// Prohibited places (name, category).
pub const PROHIBITED: &[(&str, &str)] = &[
    ("金色年华KTV", "entertainment"),
    ("星光大道KTV", "entertainment"),
    ("皇家一号会所", "club"),
    ("磁湖湾私人会所", "club"),
    ("夜色酒吧", "entertainment"),
    ("蓝调酒吧", "entertainment"),
    ("天上人间洗浴中心", "entertainment"),
    ("金海岸足浴城", "entertainment"),
    ("东方山风景区", "scenic"),
    ("黄荆山森林公园", "scenic"),
    ("仙岛湖风景区", "scenic"),
    ("雷山风景区", "scenic"),
    ("小雷山风景区", "scenic"),
    ("黄石国家矿山公园", "scenic"),
    ("铜绿山古铜矿遗址", "scenic"),
    ("磁湖高尔夫俱乐部", "club"),
    ("月亮湾茶楼", "other"),
    ("聚贤阁茶楼", "other"),
    ("皇冠棋牌室", "other"),
    ("滨江大酒店夜总会", "entertainment"),
    ("欢乐迪KTV", "entertainment"),
    ("好乐迪KTV", "entertainment"),
    ("温泉度假村", "club"),
    ("莲花湖垂钓中心", "other"),
    ("西塞山风景区", "scenic"),
    ("青龙山度假山庄", "club"),
    ("碧水湾洗浴会所", "entertainment"),
    ("王府井茶楼", "other"),
    ("天空之城酒吧", "entertainment"),
    ("红馆KTV", "entertainment"),
];

/// Common surnames, for drivers.
pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
    "董", "袁", "潘", "柯",
];

/// Given names, for drivers.
pub const GIVEN_NAMES: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫",
    "波", "宁", "建华", "建国", "志强", "海涛", "文斌", "红兵", "晓东", "国庆", "卫东", "永刚", "德胜",
    "春生", "金龙", "小军",
];

/// Purposes written on dispatch orders.
pub const PURPOSES: &[&str] = &[
    "公务接待",
    "会议保障",
    "调研检查",
    "执法检查",
    "文件送达",
    "项目现场踏勘",
    "安全生产检查",
    "接送领导参会",
    "督办检查",
    "信访接待",
    "机要文件交换",
    "应急值守",
    "防汛巡查",
    "环境执法",
    "市场巡查",
    "下乡扶贫",
];
