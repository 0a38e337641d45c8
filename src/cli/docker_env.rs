//! `rkube docker-env [--shell SH] [-u|--unset]`: minikube's command, for the tutorials that
//! run `eval $(minikube docker-env)` before `docker build`. rkube's pods already run on the
//! Docker engine this shell uses, so the exports name that same engine: evaluating them
//! changes which engine `docker` talks to not at all, and images built afterwards are
//! usable by pods as before.

use super::exit::Failure;
use crate::cluster::profile;

/// Arguments of `rkube docker-env`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, sh, fish, powershell or cmd (default: from $SHELL).
    #[arg(long)]
    pub shell: Option<String>,
    /// Print the commands that undo it.
    #[arg(short = 'u', long)]
    pub unset: bool,
}

/// The variables naming the engine rkube uses: `DOCKER_*` as this process sees them (the
/// engine rkube connects to), the default socket otherwise.
fn exports(profile: &str) -> Vec<(&'static str, String)> {
    let mut vars = Vec::new();
    for k in ["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
        if let Some(v) = std::env::var(k).ok().filter(|v| !v.is_empty()) {
            vars.push((k, v));
        }
    }
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    vars.push(("DOCKER_HOST", host));
    vars.push(("RKUBE_ACTIVE_DOCKERD", profile.to_string()));
    vars
}

fn shell_of(asked: Option<&str>) -> String {
    asked.map(str::to_string).unwrap_or_else(|| {
        std::env::var("SHELL")
            .ok()
            .and_then(|s| s.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| "bash".into())
    })
}

/// The lines for `shell`.
fn render(shell: &str, profile: &str, unset: bool) -> Result<String, String> {
    let set = |k: &str, v: &str| match shell {
        "fish" => format!("set -gx {k} \"{v}\";"),
        "powershell" | "pwsh" => format!("$Env:{k} = \"{v}\""),
        "cmd" => format!("SET {k}={v}"),
        _ => format!("export {k}=\"{v}\""),
    };
    let clear = |k: &str| match shell {
        "fish" => format!("set -e {k};"),
        "powershell" | "pwsh" => format!("Remove-Item Env:\\\\{k}"),
        "cmd" => format!("SET {k}="),
        _ => format!("unset {k}"),
    };
    if !matches!(
        shell,
        "bash" | "zsh" | "sh" | "dash" | "ksh" | "fish" | "powershell" | "pwsh" | "cmd"
    ) {
        return Err(format!(
            "--shell {shell}: use bash, zsh, sh, fish, powershell or cmd"
        ));
    }
    let comment = if shell == "cmd" { "REM" } else { "#" };
    let me = format!("rkube -p {profile} docker-env");
    let mut out = String::new();
    if unset {
        // DOCKER_* stay: they name the engine this shell used before, so unsetting them
        // could point docker somewhere else.
        out.push_str(&clear("RKUBE_ACTIVE_DOCKERD"));
        out.push('\n');
        return Ok(out);
    }
    for (k, v) in exports(profile) {
        out.push_str(&set(k, &v));
        out.push('\n');
    }
    let eval = match shell {
        "fish" => format!("{me} | source"),
        "powershell" | "pwsh" => format!("& {me} --shell powershell | Invoke-Expression"),
        "cmd" => format!("@FOR /f \"tokens=*\" %i IN ('{me} --shell cmd') DO @%i"),
        _ => format!("eval $({me})"),
    };
    out.push_str(&format!(
        "\n{comment} rkube's pods run on this same Docker engine: images you build are usable by pods at once.\n{comment} To point your shell to rkube's docker-daemon, run:\n{comment} {eval}\n"
    ));
    Ok(out)
}

/// Run `docker-env`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    let shell = shell_of(args.shell.as_deref());
    let text = render(&shell, profile_name, args.unset)
        .map_err(|m| Failure::new(super::exit::USAGE, m))?;
    print!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_exports_the_same_engine_with_minikube_comments() {
        let out = render("bash", "rkube", false).unwrap();
        assert!(out.contains("export DOCKER_HOST=\""), "{out}");
        assert!(
            out.contains("export RKUBE_ACTIVE_DOCKERD=\"rkube\""),
            "{out}"
        );
        assert!(out.contains("# To point your shell to rkube's docker-daemon, run:\n# eval $(rkube -p rkube docker-env)"), "{out}");
        assert_eq!(
            render("bash", "rkube", true).unwrap(),
            "unset RKUBE_ACTIVE_DOCKERD\n"
        );
    }

    #[test]
    fn other_shells_and_bad_ones() {
        assert!(render("fish", "p", false)
            .unwrap()
            .contains("set -gx RKUBE_ACTIVE_DOCKERD \"p\";"));
        assert!(render("powershell", "p", false)
            .unwrap()
            .contains("$Env:RKUBE_ACTIVE_DOCKERD = \"p\""));
        assert!(render("cmd", "p", false)
            .unwrap()
            .contains("SET RKUBE_ACTIVE_DOCKERD=p"));
        assert!(render("tcsh", "p", false).is_err());
    }
}
