//! `rkube dashboard [--url] [--port N]`: minikube's dashboard command. Turns the dashboard
//! addon on, runs a local API proxy on 127.0.0.1 with the user's credentials, and opens
//! the dashboard's URL on it, until Ctrl+C.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Empty};
use tokio::net::TcpListener;

use super::addons::{connect_running, turn_on};
use super::exit::{self, Failure};
use crate::addons::catalog;
use crate::cluster::addons;
use crate::cluster::profile;
use crate::cluster::start::credentials;
use crate::dashboard::helper::{Helper, Pending};
use crate::dashboard::{self, proxy};
use crate::ui;

/// Arguments of `rkube dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub url: bool,
    /// The local port of the proxy (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Steps go to stderr with `--url`, so that stdout holds only the URL.
fn say(url_only: bool, emoji: &str, text: &str) {
    let line = ui::line(emoji, text);
    if url_only {
        crate::say_err!("{line}");
    } else {
        crate::say!("{line}");
    }
}

/// Run `dashboard`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let mut settings =
        profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let addon = catalog::find("dashboard").context("the dashboard addon is embedded")?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let (docker, client) =
            connect_running(profile_name, &settings, "the dashboard cannot be opened").await?;
        // Bind first: a busy port is the user's to fix before anything changes.
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .await
            .map_err(|e| {
                Failure::new(
                    exit::PORT_IN_USE,
                    format!("Port {} on 127.0.0.1 cannot be used for the dashboard proxy ({e}); choose another with --port, or leave it out for a free one.", args.port),
                )
            })?;
        let port = listener.local_addr()?.port();
        say(args.url, "🔌", "Enabling dashboard ...");
        let url_only = args.url;
        if settings.enabled_addons().contains(&addon.name) {
            // Applied again, quietly: a newer rkube brings a newer page, and a pod someone
            // deleted comes back.
            let images = addons::ensure_images(&docker, addon, |l| say(url_only, "🚜", l)).await?;
            addons::enable(&client, addon, &images, Duration::from_secs(30)).await?;
        } else {
            turn_on(&docker, &client, addon, &|l| {
                if url_only {
                    crate::say_err!("{l}")
                } else {
                    crate::say!("{l}")
                }
            })
            .await?;
            settings.set_addon(&addon.name, true);
            profile::save(&settings)?;
        }
        say(args.url, "🤔", "Verifying dashboard health ...");
        if !addons::verify(&client, addon, Duration::from_secs(300)).await? {
            return Err(Failure::new(
                exit::FAILURE,
                format!("The dashboard pod did not become ready within 5 minutes; see `kubectl -n {} describe pods`.", dashboard::NAMESPACE),
            )
            .into());
        }
        say(args.url, "🚀", "Launching proxy ...");
        let (_, creds) = credentials(profile_name)?;
        let api = SocketAddr::from((Ipv4Addr::LOCALHOST, settings.api_port));
        let upstream = Arc::new(proxy::Upstream::new(api, &creds.ca_pem, &creds.admin)?);
        let helper: Arc<dyn Helper> = Arc::new(PageHelper {
            profile: profile_name.to_string(),
            docker,
            client,
            busy: tokio::sync::Mutex::new(()),
            forwards: tokio::sync::Mutex::new(Vec::new()),
        });
        tokio::spawn(proxy::serve(listener, upstream, Some(helper)));
        say(args.url, "🤔", "Verifying proxy health ...");
        let url = format!("http://127.0.0.1:{port}{}", dashboard::PATH);
        proxy_healthy(port, Duration::from_secs(60)).await.map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("The dashboard did not answer through the proxy at {url}: {e}. See `kubectl -n {} get pods,endpointslices`.", dashboard::NAMESPACE),
            )
        })?;
        if args.url || !super::service::has_display() {
            crate::say!("{url}");
        } else {
            say(false, "🎉", &format!("Opening {url} in your default browser..."));
            if let Err(e) = webbrowser::open(&url) {
                say(false, "❗", &format!("Could not open a browser ({e}); open {url} yourself."));
            }
        }
        tokio::signal::ctrl_c().await.context("waiting for Ctrl+C")?;
        Ok(0)
    })
}

/// Wait until the page's health check answers 200 through the proxy, as a browser would
/// reach it.
async fn proxy_healthy(port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let path = format!("{}healthz", dashboard::PATH);
    loop {
        let last = match get(port, &path).await {
            Ok(200) => return Ok(()),
            Ok(code) => format!("HTTP {code}"),
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(port: u16, path: &str) -> Result<u16, String> {
    let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(code)
}

/// Port-forwards the page started: service, port, and the local URL serving it.
type Forward = ((String, String, i32), String, tokio::task::JoinHandle<()>);

/// What the page asks of this process: the same steps as `rkube addons enable|disable`,
/// one at a time, with their lines printed where `rkube dashboard` runs; and port-forwards
/// through the API server (as `rkube service` does where the node is out of reach), kept
/// until Ctrl+C.
struct PageHelper {
    profile: String,
    docker: bollard::Docker,
    client: kube::Client,
    busy: tokio::sync::Mutex<()>,
    forwards: tokio::sync::Mutex<Vec<Forward>>,
}

impl Helper for PageHelper {
    fn addons(&self) -> Pending<'_, serde_json::Value> {
        Box::pin(async move {
            let enabled = profile::load(&self.profile)
                .map_err(|e| e.to_string())?
                .map(|s| s.enabled_addons())
                .unwrap_or_default();
            Ok(catalog::all()
                .iter()
                .map(|a| {
                    serde_json::json!({"name": a.name, "description": a.description,
                        "enabled": enabled.contains(&a.name)})
                })
                .collect())
        })
    }

    fn switch(&self, name: String, on: bool) -> Pending<'_, ()> {
        Box::pin(async move {
            let _one_at_a_time = self.busy.lock().await;
            let addon = catalog::find(&name).ok_or_else(|| catalog::unknown(&name))?;
            let mut settings = profile::load(&self.profile)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("profile {} is gone", self.profile))?;
            if settings.enabled_addons().contains(&addon.name) == on {
                return Ok(());
            }
            if on {
                turn_on(&self.docker, &self.client, addon, &|l| crate::say!("{l}"))
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                addons::disable(&self.client, addon)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            settings.set_addon(&addon.name, on);
            profile::save(&settings).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn port_forward(&self, namespace: String, service: String, port: i32) -> Pending<'_, String> {
        Box::pin(async move {
            use k8s_openapi::api::core::v1::Service;
            let key = (namespace.clone(), service.clone(), port);
            let mut forwards = self.forwards.lock().await;
            if let Some((_, url, task)) = forwards.iter().find(|(k, _, _)| *k == key) {
                if !task.is_finished() {
                    return Ok(url.clone());
                }
            }
            let api: kube::Api<Service> = kube::Api::namespaced(self.client.clone(), &namespace);
            let svc = api
                .get_opt(&service)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("service {namespace}/{service} not found"))?;
            let svc_port = svc
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .find(|p| p.port == port && p.protocol.as_deref().unwrap_or("TCP") == "TCP")
                .cloned()
                .ok_or_else(|| format!("service {namespace}/{service} has no TCP port {port}"))?;
            let (addr, task) = crate::tunnel::via_api::listen(self.client.clone(), svc, svc_port)
                .await
                .map_err(|e| e.to_string())?;
            let url = format!("http://{addr}");
            crate::say!(
                "{}",
                ui::line(
                    "🏃",
                    &format!("Forwarding {url} to service {namespace}/{service} port {port}")
                )
            );
            forwards.retain(|(k, _, _)| *k != key);
            forwards.push((key, url.clone(), task));
            Ok(url)
        })
    }
}
