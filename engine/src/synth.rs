//! Deterministic synthetic cohorts for the marketing packages: seeded
//! xorshift64*, no external randomness. The same `(n, seed)` always gives
//! the same bytes.

/// The three CSV files of a synthetic cohort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthCohort {
    pub crm: String,
    pub survey: String,
    pub oa: String,
}

/// Which header labels the CRM file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmHeaders {
    /// The canonical column names (`staff_id`, `sales_amount`, ...).
    Canonical,
    /// The CRM export's Chinese labels (`员工编号`, `销售额`, ...), accepted as aliases.
    Chinese,
}

struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let s = seed ^ 0x9E37_79B9_7F4A_7C15;
        XorShift(if s == 0 { 1 } else { s })
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// `units / 10^places` written as a decimal string (e.g. 12345, 2 -> "123.45").
fn fixed(units: u64, places: u32) -> String {
    if places == 0 {
        return units.to_string();
    }
    let p = 10u64.pow(places);
    format!(
        "{}.{:0width$}",
        units / p,
        units % p,
        width = places as usize
    )
}

const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "婷", "浩", "宇", "欣", "晨", "悦", "子涵", "思远",
    "雨桐", "俊杰", "文博", "嘉怡", "一鸣", "晓东", "海燕", "建华", "志强", "佳琪",
];
const REGIONS: [&str; 6] = ["华东", "华南", "华北", "西南", "华中", "西北"];
const TEAMS: [&str; 3] = ["一组", "二组", "三组"];

/// Generate a cohort of `n` staff with IDs `E000001`.. for the marketing
/// packages' three sources. Rows of survey and oa come in a different order
/// from crm (joining is by staff_id).
pub fn generate(n: usize, seed: u64, headers: CrmHeaders) -> SynthCohort {
    let mut rng = XorShift::new(seed);
    let mut crm = String::from(match headers {
        CrmHeaders::Canonical => "staff_id,name,region,team,sales_amount,sales_target,prev_sales_amount,leads,deals_won,new_customers,collection_rate\n",
        CrmHeaders::Chinese => "员工编号,姓名,区域,团队,销售额,销售目标,上期销售额,线索数,成交数,新客户数,回款率\n",
    });
    let mut survey_rows = Vec::with_capacity(n);
    let mut oa_rows = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("E{:06}", i + 1);
        let name = format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN));
        let region = rng.pick(&REGIONS);
        let team = format!("{region}{}", rng.pick(&TEAMS));
        // money in cents
        let target = rng.range(20, 80) * 10_000 * 100;
        let sales = target / 100 * rng.range(40, 175);
        let prev = if rng.range(0, 19) == 0 {
            0
        } else {
            target / 100 * rng.range(50, 150)
        };
        let leads = if rng.range(0, 49) == 0 {
            0
        } else {
            rng.range(5, 200)
        };
        let deals = if leads == 0 {
            0
        } else {
            rng.range(0, leads / 2)
        };
        let new_customers = rng.range(0, 30);
        let collection = if rng.range(0, 3) == 0 {
            rng.range(8000, 9499)
        } else {
            rng.range(9500, 10000)
        };
        crm.push_str(&format!(
            "{id},{name},{region},{team},{},{},{},{leads},{deals},{new_customers},{}\n",
            fixed(sales, 2),
            fixed(target, 2),
            fixed(prev, 2),
            fixed(collection, 4)
        ));
        let csat = rng.range(250, 500);
        let nps = i64::try_from(rng.range(0, 120)).unwrap_or(0) - 30;
        let complaints = if rng.range(0, 2) == 0 {
            0
        } else {
            rng.range(1, 8)
        };
        let resolved = if complaints == 0 {
            0
        } else {
            rng.range(0, complaints)
        };
        survey_rows.push(format!(
            "{id},{},{nps},{complaints},{resolved}\n",
            fixed(csat, 2)
        ));
        oa_rows.push(format!(
            "{id},{},{},{},{},{}\n",
            fixed(rng.range(400, 1000), 1),
            rng.range(0, 30),
            fixed(rng.range(0, 1000), 1),
            rng.range(0, 7),
            fixed(rng.range(500, 1000), 1)
        ));
    }
    survey_rows.reverse();
    let half = n / 2;
    oa_rows.rotate_left(half);
    let mut survey = String::from("staff_id,csat,nps,complaints,complaints_resolved_72h\n");
    survey.extend(survey_rows);
    let mut oa = String::from(
        "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\n",
    );
    oa.extend(oa_rows);
    SynthCohort { crm, survey, oa }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_seed_sensitive() {
        let a = generate(50, 7, CrmHeaders::Canonical);
        assert_eq!(a, generate(50, 7, CrmHeaders::Canonical));
        assert_ne!(a, generate(50, 8, CrmHeaders::Canonical));
        assert_eq!(a.crm.lines().count(), 51);
        assert_eq!(a.survey.lines().count(), 51);
        assert_eq!(a.oa.lines().count(), 51);
        assert_eq!(fixed(12345, 2), "123.45");
        assert_eq!(fixed(5, 4), "0.0005");
    }
}
