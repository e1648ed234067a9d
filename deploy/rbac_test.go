package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/sluice-dev/sluice/kube"
)

// rbacPath is the worker's RBAC for Kubernetes pod tasks.
const rbacPath = "k8s/worker-rbac.yaml"

// rbacFile is k8s/worker-rbac.yaml decoded as the API server would
// (strictly: an unknown or misspelt field is an error), with the
// commented variant for workers of several namespaces.
type rbacFile struct {
	serviceAccounts []*corev1.ServiceAccount
	roles           []*rbacv1.Role
	roleBindings    []*rbacv1.RoleBinding
	// From the commented variant.
	clusterRoles        []*rbacv1.ClusterRole
	commentedBindings   []*rbacv1.RoleBinding
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
}

var strict = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// add decodes one document with Kubernetes' own types.
func (r *rbacFile) add(doc *yaml.Node, commented bool) error {
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	obj, _, err := strict.Decode(data, nil, nil)
	if err != nil {
		return err
	}
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		r.serviceAccounts = append(r.serviceAccounts, o)
	case *rbacv1.Role:
		r.roles = append(r.roles, o)
	case *rbacv1.RoleBinding:
		if commented {
			r.commentedBindings = append(r.commentedBindings, o)
		} else {
			r.roleBindings = append(r.roleBindings, o)
		}
	case *rbacv1.ClusterRole:
		r.clusterRoles = append(r.clusterRoles, o)
	case *rbacv1.ClusterRoleBinding:
		r.clusterRoleBindings = append(r.clusterRoleBindings, o)
	default:
		return fmt.Errorf("unexpected %T: teach rbac_test.go about it", obj)
	}
	if !commented && (len(r.clusterRoles) > 0 || len(r.clusterRoleBindings) > 0) {
		return errors.New("cluster-wide RBAC is applied by default: keep it in the commented variant")
	}
	return nil
}

// addCommented decodes the commented variant: the lines "# …" from the
// first commented "apiVersion:" to the end of the file.
func (r *rbacFile) addCommented(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var src bytes.Buffer
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# apiVersion:") {
			in = true
		}
		if in {
			text, ok := strings.CutPrefix(line, "# ")
			if !ok && line != "#" {
				return fmt.Errorf("%s: the commented variant has a line that is not a comment: %q", path, line)
			}
			src.WriteString(text + "\n")
		}
	}
	if !in {
		return fmt.Errorf("%s: no commented ClusterRole variant", path)
	}
	dec := yaml.NewDecoder(&src)
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s (commented variant): %w", path, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		if err := r.add(&doc, true); err != nil {
			return fmt.Errorf("%s (commented variant): %w", path, err)
		}
	}
}

// grants reports whether rules allow a Need, as RBAC reads them: the core
// API group, the resource (with its subresource) and the verb, each
// named or "*".
func grants(rules []rbacv1.PolicyRule, n kube.Need) bool {
	resource := n.Resource
	if n.Subresource != "" {
		resource += "/" + n.Subresource
	}
	has := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	for _, r := range rules {
		if has(r.APIGroups, "") && has(r.Resources, resource) && has(r.Verbs, n.Verb) {
			return true
		}
	}
	return false
}

// checkRBAC checks that the worker's Role grants every permission the
// worker uses (kube.Needs, what `sluice doctor` asks for), that its
// RoleBinding gives it to the file's ServiceAccount, and that the
// commented ClusterRole variant grants the same.
func checkRBAC(r *rbacFile) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, rbacPath+": "+fmt.Sprintf(format, args...))
	}
	missing := func(what string, rules []rbacv1.PolicyRule) {
		for _, n := range kube.Needs {
			if !grants(rules, n) {
				bad("%s does not grant %s, which a worker uses (kube.Needs)", what, n)
			}
		}
	}
	if len(r.serviceAccounts) != 1 || len(r.roles) != 1 || len(r.roleBindings) != 1 {
		bad("want one ServiceAccount, Role and RoleBinding, got %d, %d and %d", len(r.serviceAccounts), len(r.roles), len(r.roleBindings))
		return problems
	}
	sa, role := r.serviceAccounts[0], r.roles[0]
	missing("Role "+role.Name, role.Rules)
	bindsTo := func(what string, subjects []rbacv1.Subject) {
		for _, s := range subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.Name && s.Namespace != "" {
				return
			}
		}
		bad("%s binds no ServiceAccount of this file (want %s, with its namespace)", what, sa.Name)
	}
	for _, b := range r.roleBindings {
		if b.RoleRef.Kind != "Role" || b.RoleRef.Name != role.Name || b.RoleRef.APIGroup != rbacv1.GroupName {
			bad("RoleBinding %s binds %s %s, which this file does not define", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		bindsTo("RoleBinding "+b.Name, b.Subjects)
	}
	if len(r.clusterRoles) != 1 {
		bad("the commented variant: want one ClusterRole, got %d", len(r.clusterRoles))
		return problems
	}
	cr := r.clusterRoles[0]
	missing("ClusterRole "+cr.Name+" (commented)", cr.Rules)
	if len(r.commentedBindings) == 0 {
		bad("the commented variant has no RoleBinding to its ClusterRole")
	}
	for _, b := range r.commentedBindings {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != cr.Name {
			bad("commented RoleBinding %s binds %s %s, not the ClusterRole %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, cr.Name)
		}
		bindsTo("commented RoleBinding "+b.Name, b.Subjects)
	}
	for _, b := range r.clusterRoleBindings {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != cr.Name {
			bad("commented ClusterRoleBinding %s binds %s %s, not the ClusterRole %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, cr.Name)
		}
		bindsTo("commented ClusterRoleBinding "+b.Name, b.Subjects)
	}
	return problems
}
