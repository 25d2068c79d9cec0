package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tally-dev/tally/shard"
)

// The checks below are what the deployment relies on beyond the provider's schema. Each takes
// a configuration and returns its problems, so that TestStructureChecksFail can show each one
// failing on a configuration that has the mistake.

// variablesDescribed: every variable has a type and a description.
func variablesDescribed(cfg *config) []string {
	var out []string
	for name, b := range cfg.variables {
		if _, ok := b.Body.Attributes["type"]; !ok {
			out = append(out, fmt.Sprintf("%s: variable %q has no type", b.DefRange(), name))
		}
		d, ok := b.Body.Attributes["description"]
		if !ok {
			out = append(out, fmt.Sprintf("%s: variable %q has no description", b.DefRange(), name))
			continue
		}
		if v, diags := d.Expr.Value(nil); diags.HasErrors() || v.Type() != cty.String || strings.TrimSpace(v.AsString()) == "" {
			out = append(out, fmt.Sprintf("%s: variable %q has an empty or computed description", d.SrcRange, name))
		}
	}
	return out
}

// ownServiceAccount: the Cloud Run service runs as a service account this configuration creates,
// not the default compute account (which has the project's Editor role).
func ownServiceAccount(cfg *config) []string {
	services := cfg.resourcesOf("google_cloud_run_v2_service")
	if len(services) == 0 {
		return []string{"no google_cloud_run_v2_service"}
	}
	var out []string
	for _, svc := range services {
		var sa *hclsyntax.Attribute
		for _, tmpl := range blocksOf(svc.block.Body, "template") {
			sa = tmpl.Body.Attributes["service_account"]
		}
		if sa == nil {
			out = append(out, fmt.Sprintf("%s: %s sets no template.service_account: it would run as the default compute service account", svc.block.DefRange(), svc))
			continue
		}
		tr, diags := hcl.AbsTraversalForExpr(sa.Expr)
		name, _ := attrName(tr, 1)
		attr, _ := attrName(tr, 2)
		if diags.HasErrors() || tr.RootName() != "google_service_account" || attr != "email" || !declared(cfg, "google_service_account", name) {
			out = append(out, fmt.Sprintf("%s: the service account must be google_service_account.NAME.email of a service account declared here", sa.SrcRange))
		}
	}
	return out
}

func declared(cfg *config, typ, name string) bool {
	for _, r := range cfg.resourcesOf(typ) {
		if r.name == name {
			return true
		}
	}
	return false
}

// requiredOutputs: the outputs named in want exist and their values refer to what they name
// (e.g. service_url to a google_cloud_run_v2_service's uri).
func requiredOutputs(cfg *config, want map[string]string) []string {
	var out []string
	for name, ref := range want {
		b := cfg.outputs[name]
		if b == nil {
			out = append(out, fmt.Sprintf("no output %q", name))
			continue
		}
		v := b.Body.Attributes["value"]
		found := false
		for _, tr := range v.Expr.Variables() {
			if strings.HasPrefix(traversalString(tr), ref) {
				found = true
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s: output %q does not refer to %s", v.SrcRange, name, ref))
		}
	}
	return out
}

// traversalString renders root.attr.attr, skipping indexes and the resource name, e.g.
// google_cloud_run_v2_service.*.uri for google_cloud_run_v2_service.tally.uri.
func traversalString(tr hcl.Traversal) string {
	parts := []string{tr.RootName()}
	for i, step := range tr[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			if i == 0 && tr.RootName() != "module" && tr.RootName() != "var" && tr.RootName() != "local" {
				parts = append(parts, "*")
				continue
			}
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(parts, ".")
}

var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// iamArguments are the arguments that grant roles to principals: member and members of the
// IAM resources and of google_iam_policy's binding blocks, and policy_data of *_iam_policy.
var iamArguments = map[string]bool{"member": true, "members": true, "policy_data": true}

// notPublic: no Cloud Run service turns its invoker check off (invoker_iam_disabled), and no
// IAM member can be allUsers or allAuthenticatedUsers: not as a literal, not from a variable's
// default, and not from a variable whose validation lets them through, whether the variable
// reaches the member directly, through locals, through for_each (each.value) or through a
// dynamic block's iterator, in a resource or in a data source such as google_iam_policy. Nor
// does either string appear anywhere but in a validation or a description.
func notPublic(cfg *config) []string {
	var out []string
	for _, svc := range cfg.resources {
		a, ok := svc.block.Body.Attributes["invoker_iam_disabled"]
		if !ok {
			continue
		}
		if v, diags := a.Expr.Value(nil); diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool || v.True() {
			out = append(out, fmt.Sprintf("%s: %s sets invoker_iam_disabled: anyone who can reach it could call it; leave it unset (false)", a.SrcRange, svc))
		}
	}
	checkVars := map[string]hcl.Range{}
	for _, r := range cfg.resources {
		scope := map[string]hcl.Expression{}
		if fe, ok := r.block.Body.Attributes["for_each"]; ok {
			scope["each"] = fe.Expr
		}
		for name, where := range iamVariables(cfg, r.block.Body, scope) {
			checkVars[name] = where
		}
	}
	// Literals, anywhere outside a variable's validation.
	for _, f := range cfg.files {
		for _, b := range f.body.Blocks {
			out = append(out, publicLiterals(b.Body, b.Type == "variable")...)
		}
	}
	for name, where := range checkVars {
		b := cfg.variables[name]
		if b == nil {
			continue // an undeclared variable is the schema check's to report
		}
		if d, ok := b.Body.Attributes["default"]; ok {
			v, _ := d.Expr.Value(nil)
			if s := findPublic(v); s != "" {
				out = append(out, fmt.Sprintf("%s: the default of variable %q, used as an IAM member at %s, holds %s", d.SrcRange, name, where, s))
			}
		}
		ty, _, err := variableType(b)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, p := range publicMembers {
			value, ok := valueHolding(ty, p)
			if !ok {
				out = append(out, fmt.Sprintf("%s: variable %q, used as an IAM member at %s, is a %s, which the check cannot fill with %s: make it a string or a list, set or map of strings", b.DefRange(), name, where, ty.FriendlyName(), p))
				continue
			}
			if !rejected(cfg, name, value) {
				out = append(out, fmt.Sprintf("%s: variable %q, used as an IAM member at %s, has no validation that refuses %s", b.DefRange(), name, where, p))
			}
		}
	}
	return out
}

// iamVariables returns the variables that reach an IAM argument in body or its nested blocks,
// with where each is used. scope maps each and the iterators of enclosing dynamic blocks to the
// for_each expressions they range over.
func iamVariables(cfg *config, body *hclsyntax.Body, scope map[string]hcl.Expression) map[string]hcl.Range {
	out := map[string]hcl.Range{}
	for name, a := range body.Attributes {
		if !iamArguments[name] {
			continue
		}
		for v := range variablesReaching(cfg, a.Expr, scope, map[string]bool{}) {
			out[v] = a.SrcRange
		}
	}
	for _, b := range body.Blocks {
		inner := scope
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			if fe, ok := b.Body.Attributes["for_each"]; ok {
				iterator := b.Labels[0]
				if it, ok := b.Body.Attributes["iterator"]; ok {
					iterator = hcl.ExprAsKeyword(it.Expr)
				}
				inner = map[string]hcl.Expression{iterator: fe.Expr}
				for k, v := range scope {
					if k != iterator {
						inner[k] = v
					}
				}
			}
		}
		for v, where := range iamVariables(cfg, b.Body, inner) {
			out[v] = where
		}
	}
	return out
}

// variablesReaching returns the variables expr's value can come from: those it names, those
// the locals it names come from, and those of the for_each an iterator in scope ranges over.
func variablesReaching(cfg *config, expr hcl.Expression, scope map[string]hcl.Expression, seen map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		name, _ := attrName(tr, 1)
		var next hcl.Expression
		switch {
		case root == "var":
			out[name] = true
		case root == "local" && cfg.locals[name] != nil:
			next = cfg.locals[name].Expr
			root = "local." + name
		case scope[root] != nil:
			next = scope[root]
		}
		if next == nil || seen[root] {
			continue
		}
		seen[root] = true
		for v := range variablesReaching(cfg, next, scope, seen) {
			out[v] = true
		}
	}
	return out
}

// valueHolding is an HCL expression of type ty holding member: the string itself, or a
// collection of it. Objects and tuples are not built (false).
func valueHolding(ty cty.Type, member string) (string, bool) {
	switch {
	case ty == cty.String || ty == cty.DynamicPseudoType:
		return fmt.Sprintf("%q", member), true
	case ty.IsListType() || ty.IsSetType():
		e, ok := valueHolding(ty.ElementType(), member)
		return "[" + e + "]", ok
	case ty.IsMapType():
		e, ok := valueHolding(ty.ElementType(), member)
		return "{ k = " + e + " }", ok
	}
	return "", false
}

// publicLiterals finds allUsers and allAuthenticatedUsers in the string literals of body; in a
// variable's body, the validations are skipped (they name them to refuse them), and so are
// descriptions everywhere (prose saying they are refused).
func publicLiterals(body *hclsyntax.Body, inVariable bool) []string {
	var out []string
	for name, a := range body.Attributes {
		if name == "description" {
			continue
		}
		hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
			if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok {
				if s := findPublic(lit.Val); s != "" {
					out = append(out, fmt.Sprintf("%s: literal %s", lit.SrcRange, s))
				}
			}
			return nil
		})
	}
	for _, b := range body.Blocks {
		if inVariable && b.Type == "validation" {
			continue
		}
		out = append(out, publicLiterals(b.Body, false)...)
	}
	return out
}

// findPublic returns the first public member in a value (a string, or inside a collection).
func findPublic(v cty.Value) string {
	if !v.IsWhollyKnown() || v.IsNull() {
		return ""
	}
	if v.Type() == cty.String {
		for _, p := range publicMembers {
			if strings.Contains(v.AsString(), p) {
				return p
			}
		}
		return ""
	}
	if v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if s := findPublic(e); s != "" {
				return s
			}
		}
	}
	return ""
}

// rejected reports whether one of the validations of variable name refuses value.
func rejected(cfg *config, name, value string) bool {
	refused, err := variableErrors(cfg, map[string]string{name: value})
	return err == nil && len(refused) > 0
}

// indexesMatchDeclaration: the module's google_firestore_index and google_firestore_field
// resources, planned, are exactly the declaration's indexes and field overrides, and the TTL
// override is the one tally's code relies on (shard.TTLCollectionGroup, shard.TTLField).
func indexesMatchDeclaration(cfg *config, decl *Indexes) []string {
	var out []string
	ttls := 0
	for _, o := range decl.FieldOverrides {
		if o.TTL {
			ttls++
			if o.CollectionGroup != shard.TTLCollectionGroup || o.FieldPath != shard.TTLField {
				out = append(out, fmt.Sprintf("the declaration's TTL field is %s/%s; tally's records expire on %s/%s", o.CollectionGroup, o.FieldPath, shard.TTLCollectionGroup, shard.TTLField))
			}
		}
	}
	if ttls != 1 {
		out = append(out, fmt.Sprintf("the declaration has %d TTL fields, want 1 (%s/%s)", ttls, shard.TTLCollectionGroup, shard.TTLField))
	}
	e, err := newEvaluator(cfg, nil)
	if err != nil {
		return append(out, err.Error())
	}

	// Composite indexes.
	var got, want []string
	for _, r := range cfg.resourcesOf("google_firestore_index") {
		instances, err := e.planResource(r)
		if err != nil {
			return append(out, err.Error())
		}
		for _, p := range instances {
			s := p.str("collection") + " " + p.str("query_scope") + ":"
			for _, f := range p.blocks["fields"] {
				s += " " + f.str("field_path") + "/" + f.str("order") + f.str("array_config")
			}
			got = append(got, s)
		}
	}
	for _, ix := range decl.Indexes {
		s := ix.CollectionGroup + " " + ix.QueryScope + ":"
		for _, f := range ix.Fields {
			s += " " + f.FieldPath + "/" + f.Order + f.ArrayConfig
		}
		want = append(want, s)
	}
	out = append(out, sameSet("composite indexes", got, want)...)

	// Field overrides.
	got, want = nil, nil
	for _, r := range cfg.resourcesOf("google_firestore_field") {
		instances, err := e.planResource(r)
		if err != nil {
			return append(out, err.Error())
		}
		for _, p := range instances {
			s := p.str("collection") + "/" + p.str("field")
			if len(p.blocks["ttl_config"]) > 0 {
				s += " ttl"
			}
			switch ic := p.blocks["index_config"]; len(ic) {
			case 0:
				s += " automatic indexes"
			default:
				s += " indexes:"
				for _, it := range ic[0].blocks["indexes"] {
					s += " " + it.str("query_scope") + "/" + it.str("order") + it.str("array_config")
				}
			}
			got = append(got, s)
		}
	}
	for _, o := range decl.FieldOverrides {
		s := o.CollectionGroup + "/" + o.FieldPath
		if o.TTL {
			s += " ttl"
		}
		s += " indexes:"
		for _, it := range o.Indexes {
			s += " " + it.QueryScope + "/" + it.Order + it.ArrayConfig
		}
		want = append(want, s)
	}
	return append(out, sameSet("field overrides", got, want)...)
}

func sameSet(what string, got, want []string) []string {
	sort.Strings(got)
	sort.Strings(want)
	if reflect.DeepEqual(got, want) {
		return nil
	}
	return []string{fmt.Sprintf("the module's %s are\n\t%s\nbut the declaration has\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))}
}

func TestStructure(t *testing.T) {
	decl, err := Declared()
	if err != nil {
		t.Fatal(err)
	}
	module := loadConfigT(t, filepath.Join("modules", "tally"))
	example := loadConfigT(t, filepath.Join("examples", "basic"))
	checks := []struct {
		name     string
		problems []string
	}{
		{"module variables typed and described", variablesDescribed(module)},
		{"example variables typed and described", variablesDescribed(example)},
		{"service runs as its own service account", ownServiceAccount(module)},
		{"module outputs", requiredOutputs(module, map[string]string{
			"service_url":           "google_cloud_run_v2_service.*.uri",
			"service_account_email": "google_service_account.*.email",
		})},
		{"example outputs", requiredOutputs(example, map[string]string{
			"service_url":           "module.tally.service_url",
			"service_account_email": "module.tally.service_account_email",
		})},
		{"module never public", notPublic(module)},
		{"example never public", notPublic(example)},
		{"indexes and TTL match the declaration and tally's code", indexesMatchDeclaration(module, decl)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.problems {
				t.Error(p)
			}
		})
	}
}

// TestStructureChecksFail gives each structure check a configuration with the mistake it
// looks for.
func TestStructureChecksFail(t *testing.T) {
	write := func(t *testing.T, tf string) *config {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
			t.Fatal(err)
		}
		return loadConfigT(t, dir)
	}
	const service = `resource "google_service_account" "sa" { account_id = "tally-run" }
resource "google_cloud_run_v2_service" "s" {
  name     = "tally"
  location = "europe-west1"
  template {
    SERVICE_ACCOUNT
    containers { image = "x" }
  }
}
`
	withSA := func(line string) string { return strings.Replace(service, "SERVICE_ACCOUNT", line, 1) }
	const invokers = `variable "members" {
  type        = list(string)
  description = "who"
  DEFAULT
  VALIDATION
}
resource "google_cloud_run_v2_service_iam_member" "i" {
  for_each = toset(var.members)
  name     = "tally"
  role     = "roles/run.invoker"
  member   = each.value
}
`
	const rejecting = `validation {
    condition     = length(setintersection(toset(var.members), toset(["allUsers", "allAuthenticatedUsers"]))) == 0
    error_message = "no"
  }`
	members := func(def, validation string) string {
		return strings.NewReplacer("DEFAULT", def, "VALIDATION", validation).Replace(invokers)
	}
	tests := []struct {
		name  string
		check func(*config) []string
		tf    string
		want  string
	}{
		{"variable without type", variablesDescribed, `variable "v" { description = "d" }`, "has no type"},
		{"variable without description", variablesDescribed, `variable "v" { type = string }`, "has no description"},
		{"variable with an empty description", variablesDescribed, `variable "v" {
  type        = string
  description = " "
}`, "empty or computed description"},
		{"no service account", ownServiceAccount, withSA(""), "default compute service account"},
		{"someone else's service account", ownServiceAccount, withSA(`service_account = "x@p.iam.gserviceaccount.com"`), "declared here"},
		{"an undeclared service account", ownServiceAccount, withSA(`service_account = google_service_account.other.email`), "declared here"},
		{"the service account's id, not its email", ownServiceAccount, withSA(`service_account = google_service_account.sa.id`), "declared here"},
		{"no service_url output", func(c *config) []string {
			return requiredOutputs(c, map[string]string{"service_url": "google_cloud_run_v2_service.*.uri"})
		}, withSA(`service_account = google_service_account.sa.email`), `no output "service_url"`},
		{"service_url of something else", func(c *config) []string {
			return requiredOutputs(c, map[string]string{"service_url": "google_cloud_run_v2_service.*.uri"})
		}, withSA(`service_account = google_service_account.sa.email`) + `output "service_url" { value = google_cloud_run_v2_service.s.name }`, "does not refer to"},
		{"allUsers literal", notPublic, `resource "google_cloud_run_v2_service_iam_member" "i" {
  name   = "tally"
  role   = "roles/run.invoker"
  member = "allUsers"
}`, "literal allUsers"},
		{"allAuthenticatedUsers in a binding's members", notPublic, `resource "google_project_iam_binding" "b" {
  project = "p"
  role    = "roles/datastore.user"
  members = ["user:a@example.com", "allAuthenticatedUsers"]
}`, "literal allAuthenticatedUsers"},
		{"allUsers in a local", notPublic, `locals { who = "allUsers" }`, "literal allUsers"},
		{"public default", notPublic, members(`default = ["allUsers"]`, rejecting), "the default of variable"},
		{"no validation", notPublic, members(`default = []`, ""), "has no validation that refuses allUsers"},
		// Another variable's type with optional attributes, which the evaluator once could not
		// read, made every value count as refused: the check passed a members variable with no
		// validation at all.
		{"no validation, beside an object variable with optional attributes", notPublic, `variable "scaling" {
  type        = object({ min = optional(number, 0) })
  description = "s"
  default     = {}
}
` + members(`default = []`, ""), "has no validation that refuses allUsers"},
		{"no validation, beside a variable whose default the evaluator cannot read", notPublic, `variable "started" {
  type        = string
  description = "s"
  default     = upper("a")
}
` + members(`default = []`, ""), "has no validation that refuses allUsers"},
		{"invoker check disabled", notPublic, strings.Replace(withSA(`service_account = google_service_account.sa.email`), `location = "europe-west1"`, `location = "europe-west1"
  invoker_iam_disabled = true`, 1), "invoker_iam_disabled"},
		{"invoker check disabled by a variable", notPublic, `variable "open" {
  type        = bool
  description = "d"
  default     = false
}
` + strings.Replace(withSA(`service_account = google_service_account.sa.email`), `location = "europe-west1"`, `location = "europe-west1"
  invoker_iam_disabled = var.open`, 1), "invoker_iam_disabled"},
		{"members of a google_iam_policy binding from an unchecked variable", notPublic, `variable "members" {
  type        = list(string)
  description = "who"
  default     = []
}
data "google_iam_policy" "p" {
  binding {
    role    = "roles/run.invoker"
    members = var.members
  }
}`, `variable "members", used as an IAM member`},
		{"members of a dynamic binding", notPublic, `variable "bindings" {
  type        = map(string)
  description = "role to member"
  default     = {}
}
data "google_iam_policy" "p" {
  dynamic "binding" {
    for_each = var.bindings
    iterator = b
    content {
      role    = b.key
      members = [b.value]
    }
  }
}`, `variable "bindings", used as an IAM member`},
		{"a member through a local", notPublic, `variable "who" {
  type        = string
  description = "who"
  default     = "user:a@example.com"
}
locals { invoker = "${var.who}" }
resource "google_cloud_run_v2_service_iam_member" "i" {
  name   = "tally"
  role   = "roles/run.invoker"
  member = local.invoker
}`, `variable "who", used as an IAM member`},
		{"a policy document from a variable", notPublic, `variable "members" {
  type        = set(string)
  description = "who"
  default     = []
}
resource "google_cloud_run_v2_service_iam_policy" "p" {
  name        = "tally"
  policy_data = jsonencode({ bindings = [{ role = "roles/run.invoker", members = var.members }] })
}`, `variable "members", used as an IAM member`},
		{"members from an object variable", notPublic, `variable "access" {
  type        = object({ members = list(string) })
  description = "who"
  default     = { members = [] }
}
resource "google_project_iam_binding" "b" {
  project = "p"
  role    = "roles/run.invoker"
  members = var.access.members
}`, "which the check cannot fill"},
		{"validation letting allAuthenticatedUsers through", notPublic, members(`default = []`, `validation {
    condition     = !contains(var.members, "allUsers")
    error_message = "no"
  }`), "refuses allAuthenticatedUsers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := tt.check(write(t, tt.tf))
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; found %q", tt.want, problems)
		})
	}

	// A valid configuration of the same shapes has no problems, so that the cases above fail
	// for their mistake and not for something else.
	for name, tf := range map[string]string{
		"service": withSA(`service_account = google_service_account.sa.email`) + `output "service_url" { value = google_cloud_run_v2_service.s.uri }`,
		"members": members(`default = []`, rejecting),
		"policy": strings.Replace(members(`default = []`, rejecting), `resource "google_cloud_run_v2_service_iam_member" "i" {`, `data "google_iam_policy" "p" {
  binding {
    role    = "roles/run.invoker"
    members = var.members
  }
}
resource "google_cloud_run_v2_service_iam_member" "i" {`, 1),
		"invoker check on": strings.Replace(withSA(`service_account = google_service_account.sa.email`), `location = "europe-west1"`, `location = "europe-west1"
  invoker_iam_disabled = false`, 1) + `output "service_url" { value = google_cloud_run_v2_service.s.uri }`,
	} {
		cfg := write(t, tf)
		all := append(notPublic(cfg), variablesDescribed(cfg)...)
		if name == "service" || name == "invoker check on" {
			all = append(all, ownServiceAccount(cfg)...)
			all = append(all, requiredOutputs(cfg, map[string]string{"service_url": "google_cloud_run_v2_service.*.uri"})...)
		}
		if len(all) > 0 {
			t.Errorf("valid %s configuration: %q", name, all)
		}
	}
}

// TestIndexCheckFails changes the declaration the module is compared with, and a copy of the
// module, and expects the index check to notice each.
func TestIndexCheckFails(t *testing.T) {
	module := loadConfigT(t, filepath.Join("modules", "tally"))
	decl := func(t *testing.T) *Indexes {
		d, err := Declared()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name   string
		change func(*Indexes)
		want   string
	}{
		{"TTL on another field", func(d *Indexes) {
			for i := range d.FieldOverrides {
				if d.FieldOverrides[i].TTL {
					d.FieldOverrides[i].FieldPath = "expires"
				}
			}
		}, "tally's records expire on"},
		{"no TTL", func(d *Indexes) {
			for i := range d.FieldOverrides {
				d.FieldOverrides[i].TTL = false
			}
		}, "0 TTL fields"},
		{"another composite index", func(d *Indexes) {
			d.Indexes = append(d.Indexes, Index{CollectionGroup: "counters", QueryScope: "COLLECTION", Fields: []IndexField{{FieldPath: "a", Order: "ASCENDING"}, {FieldPath: "b", Order: "ASCENDING"}}})
		}, "composite indexes"},
		{"an index field in another order", func(d *Indexes) { d.Indexes[0].Fields[1].Order = "DESCENDING" }, "composite indexes"},
		{"an exemption fewer", func(d *Indexes) { d.FieldOverrides = d.FieldOverrides[1:] }, "field overrides"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decl(t)
			tt.change(d)
			problems := indexesMatchDeclaration(module, d)
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; found %q", tt.want, problems)
		})
	}

	// A module that ignores the file's field overrides.
	t.Run("module without its field overrides", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join("modules", "tally")
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			b, err := os.ReadFile(filepath.Join(src, en.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if en.Name() == "firestore.tf" {
				b = []byte(strings.Replace(string(b), "for_each = local.field_overrides", "for_each = {}", 1))
			}
			if err := os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		problems := indexesMatchDeclaration(loadConfigT(t, dir), decl(t))
		if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), "field overrides") {
			t.Errorf("a module without field overrides passed: %q", problems)
		}
	})
}
