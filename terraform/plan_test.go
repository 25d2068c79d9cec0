package terraform

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// planned is a block as Terraform would plan it: its arguments evaluated (unknown where they
// depend on resources) and its nested blocks, dynamic ones expanded, by type.
type planned struct {
	attrs  map[string]cty.Value
	blocks map[string][]*planned
}

// str returns a known string argument, or "" if it is unset, null or not a known string.
func (p *planned) str(name string) string {
	v, ok := p.attrs[name]
	if !ok || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

var notPlanned = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

// planResource plans a resource: one instance per for_each element (keyed by its key), or one
// keyed "" without for_each.
func (e *evaluator) planResource(r *resourceBlock) (map[string]*planned, error) {
	out := map[string]*planned{}
	fe, ok := r.block.Body.Attributes["for_each"]
	if !ok {
		p, err := e.plan(r.block.Body, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		out[""] = p
		return out, nil
	}
	coll, err := e.value(fe.Expr, nil)
	if err != nil {
		return nil, fmt.Errorf("%s for_each: %w", r, err)
	}
	if !coll.IsWhollyKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return nil, fmt.Errorf("%s: for_each is not known at plan time", r)
	}
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if coll.Type().IsSetType() {
			k = v
		}
		p, err := e.plan(r.block.Body, map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})})
		if err != nil {
			return nil, fmt.Errorf("%s[%s]: %w", r, k.GoString(), err)
		}
		out[k.AsString()] = p
	}
	return out, nil
}

func (e *evaluator) plan(body *hclsyntax.Body, scope map[string]cty.Value) (*planned, error) {
	p := &planned{attrs: map[string]cty.Value{}, blocks: map[string][]*planned{}}
	for name, a := range body.Attributes {
		if notPlanned[name] {
			continue
		}
		v, err := e.value(a.Expr, scope)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.attrs[name] = v
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "lifecycle", "provisioner", "connection":
		case "dynamic":
			if err := e.planDynamic(p, b, scope); err != nil {
				return nil, err
			}
		default:
			inner, err := e.plan(b.Body, scope)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Type, err)
			}
			p.blocks[b.Type] = append(p.blocks[b.Type], inner)
		}
	}
	return p, nil
}

func (e *evaluator) planDynamic(p *planned, b *hclsyntax.Block, scope map[string]cty.Value) error {
	typ := b.Labels[0]
	iterator := typ
	if a, ok := b.Body.Attributes["iterator"]; ok {
		iterator = hcl.ExprAsKeyword(a.Expr)
	}
	coll, err := e.value(b.Body.Attributes["for_each"].Expr, scope)
	if err != nil {
		return fmt.Errorf("dynamic %s for_each: %w", typ, err)
	}
	if !coll.IsKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return fmt.Errorf("dynamic %s: for_each is not known at plan time", typ)
	}
	contents := blocksOf(b.Body, "content")
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		inner := map[string]cty.Value{iterator: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		for name, val := range scope {
			if name != iterator {
				inner[name] = val
			}
		}
		q, err := e.plan(contents[0].Body, inner)
		if err != nil {
			return fmt.Errorf("dynamic %s: %w", typ, err)
		}
		p.blocks[typ] = append(p.blocks[typ], q)
	}
	return nil
}
