fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("RssAnon"))
        .collect()
}
fn main() {
    println!("start {}", rss());
    let d = rkube::apiserver::openapi::definitions();
    println!("defs {} entries: {}", d.len(), rss());
    let s = serde_json::to_string(d).unwrap();
    println!("json {} bytes: {}", s.len(), rss());
    drop(s);
    let _ = rkube::apiserver::openapi::definition_name("apps", "v1", "Deployment");
    println!("names: {}", rss());
}
