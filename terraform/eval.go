package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evaluator evaluates a module's expressions as Terraform would at plan time: variables take
// the values given or their defaults, locals are computed from them, and every attribute of a
// resource, data source or module call is unknown (known only after apply). It implements the
// Terraform functions the module uses; an expression calling another fails to evaluate.
type evaluator struct {
	cfg    *config
	vars   map[string]cty.Value
	locals map[string]cty.Value
	busy   map[string]bool // locals being evaluated, to report a cycle
	funcs  map[string]function.Function
}

// newEvaluator prepares cfg's evaluation with the variable values in vars (HCL expressions,
// e.g. `"my-secret"`, `true`, `["user:a@example.com"]`); the others take their defaults, and
// one without a default is unknown.
func newEvaluator(cfg *config, vars map[string]string) (*evaluator, error) {
	e := &evaluator{cfg: cfg, vars: map[string]cty.Value{}, locals: map[string]cty.Value{}, busy: map[string]bool{}}
	e.funcs = functions()
	for name := range vars {
		if cfg.variables[name] == nil {
			return nil, fmt.Errorf("no variable %q in %s", name, cfg.dir)
		}
	}
	for name, b := range cfg.variables {
		ty, defaults, err := variableType(b)
		if err != nil {
			return nil, err
		}
		v := cty.UnknownVal(ty)
		src, given := vars[name]
		if given {
			expr, diags := hclsyntax.ParseExpression([]byte(src), "var."+name, hcl.InitialPos)
			if diags.HasErrors() {
				return nil, &valueError{name: name, err: diags}
			}
			if v, diags = expr.Value(&hcl.EvalContext{Functions: e.funcs}); diags.HasErrors() {
				return nil, &valueError{name: name, err: diags}
			}
		} else if def, ok := b.Body.Attributes["default"]; ok {
			var diags hcl.Diagnostics
			if v, diags = def.Expr.Value(nil); diags.HasErrors() {
				return nil, fmt.Errorf("default of variable %s: %w", name, diags)
			}
		}
		if defaults != nil && v.IsKnown() {
			v = defaults.Apply(v) // the optional attributes' defaults, as Terraform fills them in
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			if given {
				return nil, &valueError{name: name, err: err}
			}
			return nil, fmt.Errorf("variable %s: %w", name, err)
		}
		e.vars[name] = cv
	}
	return e, nil
}

// variableType is the type constraint of a variable block (any when it has none), with the
// defaults of its optional object attributes (nil when it has none).
func variableType(b *hclsyntax.Block) (cty.Type, *typeexpr.Defaults, error) {
	attr, ok := b.Body.Attributes["type"]
	if !ok {
		return cty.DynamicPseudoType, nil, nil
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
	if diags.HasErrors() {
		return cty.NilType, nil, fmt.Errorf("type of variable %s: %w", b.Labels[0], diags)
	}
	return ty, defaults, nil
}

// valueError is a value given for a variable that Terraform would refuse before any validation
// runs: not an HCL expression, or not of the variable's type. Any other failure to set up the
// evaluation is the module's, not the value's.
type valueError struct {
	name string
	err  error
}

func (e *valueError) Error() string { return fmt.Sprintf("value of variable %s: %v", e.name, e.err) }
func (e *valueError) Unwrap() error { return e.err }

// value evaluates expr with extra variables in scope (each, count, a dynamic block's iterator).
func (e *evaluator) value(expr hcl.Expression, extra map[string]cty.Value) (cty.Value, error) {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "local" && len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				if err := e.local(a.Name); err != nil {
					return cty.NilVal, err
				}
			}
		}
	}
	v, diags := expr.Value(e.context(extra))
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, nil
}

// local evaluates the local value name, and those it refers to, once.
func (e *evaluator) local(name string) error {
	if _, ok := e.locals[name]; ok {
		return nil
	}
	attr := e.cfg.locals[name]
	if attr == nil {
		return fmt.Errorf("no local value %q", name)
	}
	if e.busy[name] {
		return fmt.Errorf("%s: local.%s refers to itself", attr.SrcRange, name)
	}
	e.busy[name] = true
	defer delete(e.busy, name)
	v, err := e.value(attr.Expr, nil)
	if err != nil {
		return fmt.Errorf("local.%s: %w", name, err)
	}
	e.locals[name] = v
	return nil
}

func (e *evaluator) context(extra map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":       objectOrEmpty(e.vars),
		"local":     objectOrEmpty(e.locals),
		"path":      cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(e.cfg.dir), "root": cty.StringVal(e.cfg.dir), "cwd": cty.StringVal(e.cfg.dir)}),
		"terraform": cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal("default")}),
	}
	// Resources, data sources and module calls: known to exist, their attributes unknown.
	resources := map[string]map[string]cty.Value{}
	data := map[string]map[string]cty.Value{}
	for _, r := range e.cfg.resources {
		m := resources
		if r.data {
			m = data
		}
		if m[r.typ] == nil {
			m[r.typ] = map[string]cty.Value{}
		}
		m[r.typ][r.name] = cty.DynamicVal
	}
	for typ, byName := range resources {
		vars[typ] = cty.ObjectVal(byName)
	}
	dataObj := map[string]cty.Value{}
	for typ, byName := range data {
		dataObj[typ] = cty.ObjectVal(byName)
	}
	vars["data"] = objectOrEmpty(dataObj)
	modules := map[string]cty.Value{}
	for name := range e.cfg.modules {
		modules[name] = cty.DynamicVal
	}
	vars["module"] = objectOrEmpty(modules)
	for k, v := range extra {
		vars[k] = v
	}
	return &hcl.EvalContext{Variables: vars, Functions: e.funcs}
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// functions are the Terraform functions the evaluator implements: the ones cty provides with
// Terraform's names, and Terraform's own that the module uses.
func functions() map[string]function.Function {
	fs := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "chomp": stdlib.ChompFunc,
		"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "format": stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc, "join": stdlib.JoinFunc,
		"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc,
		"lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc, "merge": stdlib.MergeFunc,
		"range": stdlib.RangeFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"replace": stdlib.ReplaceFunc, "reverse": stdlib.ReverseListFunc, "setintersection": stdlib.SetIntersectionFunc,
		"setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc,
		"split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc,
		"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
		"trimsuffix": stdlib.TrimSuffixFunc, "trimspace": stdlib.TrimSpaceFunc, "upper": stdlib.UpperFunc,
		"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		"length":      lengthFunc,
		"startswith":  stringTest(strings.HasPrefix),
		"endswith":    stringTest(strings.HasSuffix),
		"strcontains": stringTest(strings.Contains),
		"sum":         sumFunc,
		"alltrue":     boolsFunc(true),
		"anytrue":     boolsFunc(false),
	}
	// Relative to the working directory, as in Terraform; path.module is dir.
	fs["file"] = function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := os.ReadFile(filepath.Clean(args[0].AsString()))
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(b)), nil
		},
	})
	return fs
}

// lengthFunc is Terraform's length: of a string (in characters) or of a collection.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if v.Type() == cty.String {
			return stdlib.Strlen(v)
		}
		if !v.CanIterateElements() {
			return cty.NilVal, fmt.Errorf("length of a %s", v.Type().FriendlyName())
		}
		return v.Length(), nil
	},
})

// sumFunc is Terraform's sum: of a non-empty list, set or tuple of numbers.
var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
			return cty.NilVal, fmt.Errorf("sum of a %s: want a list, set or tuple of numbers", v.Type().FriendlyName())
		}
		if v.LengthInt() == 0 {
			return cty.NilVal, fmt.Errorf("sum of an empty %s", v.Type().FriendlyName())
		}
		total := cty.Zero
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			n, err := convert.Convert(e, cty.Number)
			if err != nil || n.IsNull() {
				return cty.NilVal, fmt.Errorf("sum of an element that is not a number")
			}
			total = total.Add(n)
		}
		return total, nil
	},
})

func stringTest(test func(s, sub string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(test(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// boolsFunc is alltrue (all) or anytrue (!all).
func boolsFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for _, v := range args[0].AsValueSlice() {
				if v.IsNull() {
					return cty.False, nil
				}
				if v.True() != all {
					return cty.BoolVal(!all), nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}
