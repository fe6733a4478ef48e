#!/usr/bin/env bash
# Re-create the files of this directory from the pinned upstream tags (see README.md).
#   MIRROR_ROOT=/work/.mirror ./regenerate.sh   # bare clones at $MIRROR_ROOT/<owner>+<name>/repo
# The CRD conversion is ../../../../shared/schemas/crd2jsonschema.py (kubeconform layout).
set -euo pipefail
cd "$(dirname "$0")"
MIRROR_ROOT=${MIRROR_ROOT:?set MIRROR_ROOT to the folder holding the bare clones}
CONVERT=${CONVERT:-../../../../shared/schemas/crd2jsonschema.py}

# owner+name | tag | commit | path | destination
FILES=(
  "kubernetes-sigs+external-dns|external-dns-helm-chart-1.21.1|9f26451346774099a8b3e3e5cc46a53bf2fd1461|charts/external-dns/values.yaml|helm-values/external-dns-1.21.1.values.yaml"
  "kubernetes-sigs+external-dns|external-dns-helm-chart-1.21.1|9f26451346774099a8b3e3e5cc46a53bf2fd1461|charts/external-dns/values.schema.json|helm-values/external-dns-1.21.1.schema.json"
  "kubernetes-sigs+external-dns|external-dns-helm-chart-1.21.1|9f26451346774099a8b3e3e5cc46a53bf2fd1461|charts/external-dns/crds/dnsendpoints.externaldns.k8s.io.yaml|upstream/external-dns-1.21.1_dnsendpoints.externaldns.k8s.io.yaml"
  "prometheus-community+helm-charts|kube-prometheus-stack-88.5.3|ea930baeebeba39f56d6b44e351f23b2a072a600|charts/kube-prometheus-stack/values.yaml|helm-values/kube-prometheus-stack-88.5.3.values.yaml"
  "prometheus-community+helm-charts|kube-prometheus-stack-88.5.3|ea930baeebeba39f56d6b44e351f23b2a072a600|charts/kube-prometheus-stack/charts/crds/crds/crd-servicemonitors.yaml|upstream/kube-prometheus-stack-88.5.3_crd-servicemonitors.yaml"
  "grafana-community+helm-charts|grafana-12.11.1|864f7794683680e5100a38670e103c4fa6e37e29|charts/grafana/values.yaml|helm-values/grafana-12.11.1.values.yaml"
  "grafana-community+helm-charts|loki-18.11.0|3386a1156177c6bcd7fdb1ad4c6b1dda094296e0|charts/loki/values.yaml|helm-values/loki-18.11.0.values.yaml"
  "grafana-community+helm-charts|loki-18.11.0|3386a1156177c6bcd7fdb1ad4c6b1dda094296e0|charts/loki/values.schema.json|helm-values/loki-18.11.0.schema.json"
  "grafana+alloy|helm-chart/1.11.1|233907cff225ce253f812bdfc14138dac1fa0cd2|operations/helm/charts/alloy/values.yaml|helm-values/alloy-1.11.1.values.yaml"
  "rancher+system-upgrade-controller|v0.20.1|f1362a3fe1a8d55a0c65847f7c2779909dc7ec95|pkg/crds/yaml/generated/upgrade.cattle.io_plans.yaml|upstream/system-upgrade-controller-v0.20.1_upgrade.cattle.io_plans.yaml"
)

for entry in "${FILES[@]}"; do
  IFS='|' read -r repo tag commit path dest <<<"$entry"
  got=$(git -C "$MIRROR_ROOT/$repo/repo" rev-parse "$tag^{commit}")
  [[ $got == "$commit" ]] || { echo "tag $tag of $repo is $got, expected $commit" >&2; exit 1; }
  mkdir -p "$(dirname "$dest")"
  git -C "$MIRROR_ROOT/$repo/repo" show "$commit:$path" >"$dest"
done
for crd in upstream/*.yaml; do python3 "$CONVERT" -o . "$crd" >/dev/null; done
