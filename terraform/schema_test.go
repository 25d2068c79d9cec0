package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// schemaEnv overrides where the provider schema is read from.
const schemaEnv = "TALLY_PROVIDER_SCHEMA"

// defaultSchemaPath is the Google provider's schema (`terraform providers schema -json`, cut
// down to the types a Firestore and Cloud Run deployment uses), committed since providers cannot
// be downloaded where the tests run. sharedSchemaPath is where the team's copy lives beside the
// repository, when it does: the committed one must equal it.
var (
	defaultSchemaPath = filepath.Join("testdata", "google-provider-schema.json")
	sharedSchemaPath  = filepath.Join("..", "..", "shared", "terraform", "google-provider-schema.json")
)

// providerSchema is one provider's part of `terraform providers schema -json`.
type providerSchema struct {
	Provider    schemaOf            `json:"provider"`
	Resources   map[string]schemaOf `json:"resource_schemas"`
	DataSources map[string]schemaOf `json:"data_source_schemas"`
}

type schemaOf struct {
	Block schemaBlock `json:"block"`
}

type schemaBlock struct {
	Attributes map[string]schemaAttribute `json:"attributes"`
	BlockTypes map[string]schemaBlockType `json:"block_types"`
}

type schemaAttribute struct {
	Required   bool     `json:"required"`
	Optional   bool     `json:"optional"`
	Computed   bool     `json:"computed"`
	Deprecated bool     `json:"deprecated"`
	Type       cty.Type `json:"type"` // cty's JSON form, e.g. "number" or ["list","string"]
}

type schemaBlockType struct {
	NestingMode string      `json:"nesting_mode"`
	Block       schemaBlock `json:"block"`
	MinItems    int         `json:"min_items"`
	MaxItems    int         `json:"max_items"`
}

var googleSchema = sync.OnceValues(func() (*providerSchema, error) {
	path := defaultSchemaPath
	if p := os.Getenv(schemaEnv); p != "" {
		path = p
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the provider schema (set %s to its path): %w", schemaEnv, err)
	}
	var all struct {
		ProviderSchemas map[string]*providerSchema `json:"provider_schemas"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := all.ProviderSchemas["registry.terraform.io/hashicorp/google"]
	if s == nil || len(s.Resources) == 0 {
		return nil, fmt.Errorf("%s has no hashicorp/google resource schemas", path)
	}
	return s, nil
})

func loadSchema(t *testing.T) *providerSchema {
	t.Helper()
	s, err := googleSchema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checker finds what `terraform validate` would refuse in a configuration, from the provider's
// schema alone: unknown resource and data types, unknown or computed-only arguments, unknown
// blocks (also inside dynamic blocks), missing required arguments and blocks, too many blocks,
// references to undeclared variables, locals, resources, modules and resource attributes, and
// calls of functions Terraform does not have. Each problem is one string with its position.
type checker struct {
	schema   *providerSchema
	cfg      *config
	problems []string
}

func (c *checker) addf(rng hcl.Range, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: %s", rng, fmt.Sprintf(format, args...)))
}

// checkConfig checks a configuration; modules called with a local source are loaded to check
// the call's arguments against their variables and references against their outputs.
func checkConfig(schema *providerSchema, cfg *config) []string {
	c := &checker{schema: schema, cfg: cfg}
	for _, f := range cfg.files {
		for _, b := range f.body.Blocks {
			c.topBlock(b)
		}
	}
	sort.Strings(c.problems)
	return c.problems
}

// Arguments every resource and data block takes besides its schema's.
var metaArguments = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

func (c *checker) topBlock(b *hclsyntax.Block) {
	switch b.Type {
	case "resource", "data":
		c.resource(b, b.Type == "data")
	case "variable":
		c.fixedBody(b.Body, "variable", map[string]bool{"type": false, "description": false, "default": false, "sensitive": false, "nullable": false},
			map[string]func(*hclsyntax.Block){"validation": c.conditionBlock})
		// type is a type constraint (string, list(string)), not an expression to resolve.
		for name, a := range b.Body.Attributes {
			if name != "type" {
				c.expression(a.Expr, nil)
			}
		}
		c.expressions(&hclsyntax.Body{Blocks: b.Body.Blocks}, nil)
	case "output":
		c.fixedBody(b.Body, "output", map[string]bool{"value": true, "description": false, "sensitive": false, "depends_on": false},
			map[string]func(*hclsyntax.Block){"precondition": c.conditionBlock})
		c.expressions(b.Body, nil)
	case "locals":
		c.expressions(b.Body, nil)
	case "module":
		c.module(b)
	case "provider":
		if b.Labels[0] == "google" {
			c.body(b.Body, &c.schema.Provider.Block, "provider google", false, nil)
		}
		c.expressions(b.Body, nil)
	case "check":
		for _, inner := range b.Body.Blocks {
			switch inner.Type {
			case "data":
				c.resource(inner, true)
			case "assert":
				c.conditionBlock(inner)
				c.expressions(inner.Body, nil)
			}
		}
	case "terraform":
		c.terraformBlock(b)
	}
}

// conditionBlock checks a validation, precondition, postcondition or assert block.
func (c *checker) conditionBlock(b *hclsyntax.Block) {
	c.fixedBody(b.Body, b.Type, map[string]bool{"condition": true, "error_message": true}, nil)
}

// fixedBody checks a body of Terraform's own language (not a provider's): its arguments are
// the keys of attrs (true: required), its blocks those of blocks.
func (c *checker) fixedBody(body *hclsyntax.Body, what string, attrs map[string]bool, blocks map[string]func(*hclsyntax.Block)) {
	for name, a := range body.Attributes {
		if _, ok := attrs[name]; !ok {
			c.addf(a.SrcRange, "%s has no argument %q", what, name)
		}
	}
	for name, required := range attrs {
		if _, ok := body.Attributes[name]; required && !ok {
			c.addf(body.SrcRange, "%s needs the argument %q", what, name)
		}
	}
	for _, b := range body.Blocks {
		check, ok := blocks[b.Type]
		if !ok {
			c.addf(b.DefRange(), "%s has no block %q", what, b.Type)
			continue
		}
		check(b)
	}
}

func (c *checker) terraformBlock(b *hclsyntax.Block) {
	c.fixedBody(b.Body, "terraform", map[string]bool{"required_version": false, "experiments": false}, map[string]func(*hclsyntax.Block){
		"required_providers": func(*hclsyntax.Block) {},
		"backend":            func(*hclsyntax.Block) {},
		"cloud":              func(*hclsyntax.Block) {},
	})
}

func (c *checker) resource(b *hclsyntax.Block, data bool) {
	typ := b.Labels[0]
	schemas, kind := c.schema.Resources, "resource"
	if data {
		schemas, kind = c.schema.DataSources, "data source"
	}
	s, ok := schemas[typ]
	if !ok {
		c.addf(b.LabelRanges[0], "the google provider has no %s type %q", kind, typ)
		return
	}
	_, hasCount := b.Body.Attributes["count"]
	_, hasForEach := b.Body.Attributes["for_each"]
	if hasCount && hasForEach {
		c.addf(b.DefRange(), "%s.%s has both count and for_each", typ, b.Labels[1])
	}
	scope := map[string]bool{}
	if hasCount {
		scope["count"] = true
	}
	if hasForEach {
		scope["each"] = true
	}
	c.body(b.Body, &s.Block, typ, true, scope)
}

// body checks a body against a provider schema block. top is true for a resource's own body,
// where meta-arguments and lifecycle are allowed. scope holds the names in scope besides the
// configuration's (each, count, the iterators of enclosing dynamic blocks).
func (c *checker) body(body *hclsyntax.Body, s *schemaBlock, where string, top bool, scope map[string]bool) {
	for name, a := range body.Attributes {
		c.expression(a.Expr, scope)
		if top && metaArguments[name] {
			continue
		}
		sa, ok := s.Attributes[name]
		_, isBlock := s.BlockTypes[name]
		switch {
		case !ok && isBlock:
			c.addf(a.SrcRange, "%s: %q is a block, not an argument", where, name)
		case !ok:
			c.addf(a.SrcRange, "%s has no argument %q", where, name)
		case sa.Computed && !sa.Optional && !sa.Required:
			c.addf(a.SrcRange, "%s: %q is computed by the provider and cannot be set", where, name)
		case sa.Deprecated:
			c.addf(a.SrcRange, "%s: %q is deprecated", where, name)
		default:
			c.constantType(a, sa.Type, where)
		}
	}
	for name, sa := range s.Attributes {
		if _, ok := body.Attributes[name]; sa.Required && !ok {
			c.addf(body.SrcRange, "%s needs the argument %q", where, name)
		}
	}
	static, dynamic := map[string]int{}, map[string]int{}
	for _, b := range body.Blocks {
		switch {
		case b.Type == "dynamic":
			c.dynamic(b, s, where, scope)
			if len(b.Labels) == 1 {
				dynamic[b.Labels[0]]++
			}
		case top && b.Type == "lifecycle":
			c.fixedBody(b.Body, "lifecycle", map[string]bool{"create_before_destroy": false, "prevent_destroy": false, "ignore_changes": false, "replace_triggered_by": false},
				map[string]func(*hclsyntax.Block){"precondition": c.conditionBlock, "postcondition": c.conditionBlock})
			// ignore_changes names the resource's own arguments, not references; the rest are.
			for name, a := range b.Body.Attributes {
				if name != "ignore_changes" {
					c.expression(a.Expr, scope)
				}
			}
			c.expressions(&hclsyntax.Body{Blocks: b.Body.Blocks}, scope)
		case top && (b.Type == "provisioner" || b.Type == "connection"):
		default:
			bt, ok := s.BlockTypes[b.Type]
			if !ok {
				if _, isAttr := s.Attributes[b.Type]; isAttr {
					c.addf(b.DefRange(), "%s: %q is an argument, not a block", where, b.Type)
				} else {
					c.addf(b.DefRange(), "%s has no block %q", where, b.Type)
				}
				continue
			}
			static[b.Type]++
			c.body(b.Body, &bt.Block, where+"."+b.Type, false, scope)
		}
	}
	for name, bt := range s.BlockTypes {
		n, d := static[name], dynamic[name]
		if bt.MinItems > 0 && n+d == 0 {
			c.addf(body.SrcRange, "%s needs a %q block", where, name)
		}
		max := bt.MaxItems
		if bt.NestingMode == "single" || bt.NestingMode == "group" {
			max = 1
		}
		if max > 0 && (n > max || (n == max && d > 0)) {
			c.addf(body.SrcRange, "%s has more than %d %q blocks", where, max, name)
		}
	}
}

// constantType checks an argument whose value is a constant (no references, no function
// calls) against the type the schema gives it, as Terraform converts it: "5" is a number, "many"
// is not. Arguments computed from variables or resources are not checked here.
func (c *checker) constantType(a *hclsyntax.Attribute, ty cty.Type, where string) {
	if ty == cty.NilType || len(a.Expr.Variables()) > 0 {
		return
	}
	calls := false
	hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			calls = true
		}
		return nil
	})
	if calls {
		return
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() {
		return
	}
	if _, err := convert.Convert(v, ty); err != nil {
		c.addf(a.SrcRange, "%s: %q is a %s, and %s does not convert to it: %v", where, a.Name, ty.FriendlyName(), v.Type().FriendlyName(), err)
	}
}

// dynamic checks a dynamic block: it generates blocks of a type the schema has, and its
// content is checked against that type with the iterator in scope.
func (c *checker) dynamic(b *hclsyntax.Block, s *schemaBlock, where string, scope map[string]bool) {
	if len(b.Labels) != 1 {
		c.addf(b.DefRange(), "%s: a dynamic block has one label, the type of block it makes", where)
		return
	}
	name := b.Labels[0]
	bt, ok := s.BlockTypes[name]
	if !ok {
		c.addf(b.LabelRanges[0], "%s has no block %q to make dynamically", where, name)
		return
	}
	iterator := name
	if a, ok := b.Body.Attributes["iterator"]; ok {
		iterator = hcl.ExprAsKeyword(a.Expr)
	}
	inner := map[string]bool{iterator: true}
	for k := range scope {
		inner[k] = true
	}
	for attrName, a := range b.Body.Attributes {
		switch attrName {
		case "for_each", "labels":
			c.expression(a.Expr, scope)
		case "iterator":
		default:
			c.addf(a.SrcRange, "dynamic %q has no argument %q", name, attrName)
		}
	}
	if _, ok := b.Body.Attributes["for_each"]; !ok {
		c.addf(b.DefRange(), "dynamic %q needs for_each", name)
	}
	contents := 0
	for _, inner2 := range b.Body.Blocks {
		if inner2.Type != "content" {
			c.addf(inner2.DefRange(), "dynamic %q has no block %q (only content)", name, inner2.Type)
			continue
		}
		contents++
		c.body(inner2.Body, &bt.Block, where+"."+name, false, inner)
	}
	if contents != 1 {
		c.addf(b.DefRange(), "dynamic %q has %d content blocks, want 1", name, contents)
	}
}

func (c *checker) module(b *hclsyntax.Block) {
	c.expressions(b.Body, nil)
	src, ok := b.Body.Attributes["source"]
	if !ok {
		c.addf(b.DefRange(), "module %q needs a source", b.Labels[0])
		return
	}
	path := hcl.ExprAsKeyword(src.Expr)
	if v, diags := src.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
		path = v.AsString()
	}
	if !strings.HasPrefix(path, "./") && !strings.HasPrefix(path, "../") {
		return // a registry or remote module: its variables are not here to check
	}
	mod, err := loadConfig(filepath.Join(c.cfg.dir, path))
	if err != nil {
		c.addf(src.SrcRange, "module %q: %v", b.Labels[0], err)
		return
	}
	for name, a := range b.Body.Attributes {
		switch name {
		case "source", "version", "count", "for_each", "providers", "depends_on":
			continue
		}
		if mod.variables[name] == nil {
			c.addf(a.SrcRange, "module %q has no variable %q", b.Labels[0], name)
		}
	}
	for name, v := range mod.variables {
		if _, hasDefault := v.Body.Attributes["default"]; !hasDefault {
			if _, set := b.Body.Attributes[name]; !set {
				c.addf(b.DefRange(), "module %q needs its variable %q set", b.Labels[0], name)
			}
		}
	}
}

// expressions checks every expression in a body, nested blocks included.
func (c *checker) expressions(body *hclsyntax.Body, scope map[string]bool) {
	for _, a := range body.Attributes {
		c.expression(a.Expr, scope)
	}
	for _, b := range body.Blocks {
		c.expressions(b.Body, scope)
	}
}

// Names Terraform itself puts in scope.
var builtinRoots = map[string]bool{"var": true, "local": true, "module": true, "data": true, "path": true, "terraform": true, "self": true}

// expression checks an expression's references and function calls.
func (c *checker) expression(expr hclsyntax.Expression, scope map[string]bool) {
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && !terraformFunctions[call.Name] {
			c.addf(call.NameRange, "Terraform has no function %q", call.Name)
		}
		return nil
	})
	for _, tr := range expr.Variables() {
		c.reference(tr, scope)
	}
}

func attrName(tr hcl.Traversal, i int) (string, bool) {
	if i >= len(tr) {
		return "", false
	}
	a, ok := tr[i].(hcl.TraverseAttr)
	return a.Name, ok
}

func (c *checker) reference(tr hcl.Traversal, scope map[string]bool) {
	root := tr.RootName()
	rng := tr.SourceRange()
	switch {
	case scope[root]:
		return
	case root == "each" || root == "count":
		c.addf(rng, "%s is used outside a resource with %s", root, map[string]string{"each": "for_each", "count": "count"}[root])
	case root == "var":
		if name, ok := attrName(tr, 1); ok && c.cfg.variables[name] == nil {
			c.addf(rng, "no variable %q is declared", name)
		}
	case root == "local":
		if name, ok := attrName(tr, 1); ok && c.cfg.locals[name] == nil {
			c.addf(rng, "no local value %q is declared", name)
		}
	case root == "module":
		name, _ := attrName(tr, 1)
		b := c.cfg.modules[name]
		if b == nil {
			c.addf(rng, "no module %q is called", name)
			return
		}
		out, ok := attrName(tr, 2)
		if !ok {
			return
		}
		if src, ok := b.Body.Attributes["source"]; ok {
			if v, diags := src.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && strings.HasPrefix(v.AsString(), ".") {
				if mod, err := loadConfig(filepath.Join(c.cfg.dir, v.AsString())); err == nil && mod.outputs[out] == nil {
					c.addf(rng, "module %q has no output %q", name, out)
				}
			}
		}
	case root == "data":
		typ, _ := attrName(tr, 1)
		name, _ := attrName(tr, 2)
		c.resourceReference(tr, rng, true, typ, name, 3)
	case builtinRoots[root]:
	default:
		name, _ := attrName(tr, 1)
		c.resourceReference(tr, rng, false, root, name, 2)
	}
}

// resourceReference checks that a referenced resource is declared and that the attribute read
// from it (after an optional index) is in its schema.
func (c *checker) resourceReference(tr hcl.Traversal, rng hcl.Range, data bool, typ, name string, next int) {
	var found *resourceBlock
	for _, r := range c.cfg.resources {
		if r.data == data && r.typ == typ && r.name == name {
			found = r
		}
	}
	if found == nil {
		prefix := ""
		if data {
			prefix = "data."
		}
		c.addf(rng, "no %s%s.%s is declared", prefix, typ, name)
		return
	}
	if next < len(tr) {
		if _, ok := tr[next].(hcl.TraverseIndex); ok {
			next++
		}
	}
	schemas := c.schema.Resources
	if data {
		schemas = c.schema.DataSources
	}
	block := schemas[typ].Block
	path := found.String()
	// Follow the traversal through nested blocks (an index selects one of a list or set block)
	// and then through the attribute's type, as far as the schema says what is there.
	for next < len(tr) {
		attr, ok := attrName(tr, next)
		if !ok {
			return
		}
		next++
		if a, ok := block.Attributes[attr]; ok {
			c.typeReference(tr[next:], a.Type, rng, path+"."+attr)
			return
		}
		bt, ok := block.BlockTypes[attr]
		if !ok {
			c.addf(rng, "%s has no attribute %q", path, attr)
			return
		}
		path += "." + attr
		if next < len(tr) {
			if _, ok := tr[next].(hcl.TraverseIndex); ok && bt.NestingMode != "single" && bt.NestingMode != "group" {
				next++
			}
		}
		block = bt.Block
	}
}

// typeReference checks the rest of a reference into a value of type ty: the attributes read
// from an object must be the object's.
func (c *checker) typeReference(rest hcl.Traversal, ty cty.Type, rng hcl.Range, path string) {
	for _, step := range rest {
		switch s := step.(type) {
		case hcl.TraverseIndex:
			switch {
			case ty.IsListType() || ty.IsSetType() || ty.IsMapType():
				ty = ty.ElementType()
			default:
				return
			}
		case hcl.TraverseAttr:
			if !ty.IsObjectType() {
				return
			}
			if !ty.HasAttribute(s.Name) {
				c.addf(rng, "%s has no attribute %q", path, s.Name)
				return
			}
			ty = ty.AttributeType(s.Name)
			path += "." + s.Name
		default:
			return
		}
	}
}

// terraformFunctions are the functions of Terraform 1.5's language (issensitive came in 1.8; type
// exists only in terraform console).
var terraformFunctions = func() map[string]bool {
	m := map[string]bool{}
	for _, name := range strings.Fields(`
		abs ceil floor log max min parseint pow signum
		chomp endswith format formatlist indent join lower regex regexall replace split startswith
		strcontains strrev substr title trim trimprefix trimsuffix trimspace upper
		alltrue anytrue chunklist coalesce coalescelist compact concat contains distinct element
		flatten index keys length list lookup map matchkeys merge one range reverse setintersection
		setproduct setsubtract setunion slice sort sum transpose values zipmap
		base64decode base64encode base64gzip csvdecode jsondecode jsonencode textdecodebase64
		textencodebase64 urlencode yamldecode yamlencode
		abspath dirname pathexpand basename file fileexists fileset filebase64 templatefile
		formatdate plantimestamp timeadd timecmp timestamp
		base64sha256 base64sha512 bcrypt filebase64sha256 filebase64sha512 filemd5 filesha1
		filesha256 filesha512 md5 rsadecrypt sha1 sha256 sha512 uuid uuidv5
		cidrhost cidrnetmask cidrsubnet cidrsubnets
		can nonsensitive sensitive tobool tolist tomap tonumber toset tostring try`) {
		m[name] = true
	}
	return m
}()
