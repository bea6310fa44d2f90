// Package manifests checks the Helm chart in ../tessera: every manifest it
// renders must decode strictly into the Kubernetes API types (an unknown or
// misspelt field fails), and the composer's probes, drain and config mount
// must match what the composer does. It is its own module so that the main
// module does not depend on Kubernetes.
package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// helmCommand is how helm is run: $HELM (split on spaces), else the pinned
// module through go run.
func helmCommand() []string {
	if h := os.Getenv("HELM"); h != "" {
		return strings.Fields(h)
	}
	return []string{"go", "run", "helm.sh/helm/v3/cmd/helm@v3.22.0"}
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := helmCommand()
	c := exec.Command(cmd[0], append(cmd[1:], args...)...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(cmd, " "), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// object is one decoded manifest.
type object struct {
	kind, name string
	v          any
}

func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("no API type for %s %s: add it to newObject", apiVersion, kind)
}

// decodeStrict decodes a multi-document YAML stream, failing on unknown
// fields, duplicate keys and kinds it has no type for.
func decodeStrict(stream []byte) ([]object, error) {
	var out []object
	for i, doc := range bytes.Split(stream, []byte("\n---")) {
		doc = bytes.TrimSpace(doc)
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(js, &meta); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		v, err := newObject(meta.APIVersion, meta.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, meta.Metadata.Name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", meta.Kind, meta.Metadata.Name, err)
		}
		out = append(out, object{kind: meta.Kind, name: meta.Metadata.Name, v: v})
	}
	return out, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			return o.v.(T)
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	var zero T
	return zero
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func TestDecodeStrictRefusesUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n")
	if _, err := decodeStrict(bad); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("decodeStrict of a misspelt field = %v, want an unknown-field error", err)
	}
}

func TestChartRendersValidManifests(t *testing.T) {
	chart := filepath.Join("..", "tessera")
	tests := []struct {
		name string
		set  []string
	}{
		{name: "defaults"},
		{name: "external cluster", set: []string{"redis.url=redis://node-0:6379?addr=node-1:6379&addr=node-2:6379", "composer.autoscaling.enabled=false"}},
		{name: "existing secrets", set: []string{"secrets.existingSecret=tessera-prod", "redis.urlSecret.name=redis", "redis.urlSecret.key=url", "networkPolicy.extraFrom[0].namespaceSelector.matchLabels.team=editors"}},
		{name: "no network policy", set: []string{"networkPolicy.enabled=false", "fragments.topbar.enabled=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"template", "rel", chart}
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			objs, err := decodeStrict(helm(t, args...))
			if err != nil {
				t.Fatal(err)
			}
			checkComposer(t, objs, tt.set)
		})
	}
}

func checkComposer(t *testing.T, objs []object, set []string) {
	t.Helper()
	d := find[*appsv1.Deployment](t, objs, "Deployment", "rel-tessera-composer")
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("composer pod has %d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("composer liveness probe = %+v, want GET /healthz", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("composer readiness probe = %+v, want GET /readyz", p)
	}
	drain, ok := env(c, "TESSERA_DRAIN")
	if !ok || drain.Value != "5s" {
		t.Errorf("TESSERA_DRAIN = %+v, want 5s (values composer.drainSeconds)", drain)
	}
	preStop := int64(0)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Errorf("composer has no preStop sleep")
	} else {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < preStop+5+10 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least preStop %d + drain 5 + shutdown 10", g, preStop)
	}
	if _, ok := env(c, "TESSERA_SHOWS_EDITOR_TOKEN"); ok {
		t.Error("the composer is given the shows editors' token")
	}
	for _, e := range c.Env {
		if strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "SECRET") {
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s is not taken from a Secret", e.Name)
			}
		}
	}
	cfg, _ := env(c, "TESSERA_CONFIG")
	mounted := false
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(cfg.Value, m.MountPath+"/") {
			mounted = true
			if m.SubPath != "" {
				t.Errorf("config mounted with subPath %q: ConfigMap updates would never reach the composer", m.SubPath)
			}
		}
	}
	if !mounted {
		t.Errorf("TESSERA_CONFIG %q is not on a mounted volume", cfg.Value)
	}
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap", "rel-tessera-config")
	builtIn, err := os.ReadFile(filepath.Join("..", "..", "..", "composer", "config", "tessera.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(cm.Data["tessera.yaml"]) != strings.TrimSpace(string(builtIn)) {
		t.Error("the chart's files/tessera.yaml differs from composer/config/tessera.yaml: copy it again")
	}
	find[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "rel-tessera-composer")
	if !contains(set, "composer.autoscaling.enabled=false") {
		h := find[*autoscalingv2.HorizontalPodAutoscaler](t, objs, "HorizontalPodAutoscaler", "rel-tessera-composer")
		if h.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("HPA scales %q, want %q", h.Spec.ScaleTargetRef.Name, d.Name)
		}
	}
	for _, f := range []string{"headlines", "weather", "shows", "topbar"} {
		if f == "topbar" && contains(set, "fragments.topbar.enabled=false") {
			continue
		}
		fd := find[*appsv1.Deployment](t, objs, "Deployment", "rel-tessera-"+f)
		find[*corev1.Service](t, objs, "Service", "rel-tessera-"+f)
		if u, ok := env(c, "TESSERA_FRAGMENT_"+strings.ToUpper(f)+"_URL"); !ok || !strings.Contains(u.Value, "rel-tessera-"+f) {
			t.Errorf("composer does not point %s at its Service: %+v", f, u)
		}
		if fd.Spec.Template.Labels["app.kubernetes.io/component"] != "fragment" {
			t.Errorf("%s pods are not labelled as fragments, so the NetworkPolicy misses them", f)
		}
	}
	if !contains(set, "networkPolicy.enabled=false") {
		np := find[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "rel-tessera-fragments")
		if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != "fragment" {
			t.Errorf("NetworkPolicy selects %v, want the fragment pods", np.Spec.PodSelector.MatchLabels)
		}
		if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) == 0 ||
			np.Spec.Ingress[0].From[0].PodSelector == nil ||
			np.Spec.Ingress[0].From[0].PodSelector.MatchLabels["app.kubernetes.io/component"] != "composer" {
			t.Errorf("NetworkPolicy ingress = %+v, want only the composer pods (and extra peers)", np.Spec.Ingress)
		}
	}
}

func contains(set []string, s string) bool {
	for _, v := range set {
		if v == s {
			return true
		}
	}
	return false
}
