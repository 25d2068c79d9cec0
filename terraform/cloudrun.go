package terraform

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Container is what a module's Cloud Run service gives its serving container (the one with a
// port), as Terraform would plan it for some variable values.
type Container struct {
	Name string
	// Env holds the environment variables whose values are known at plan time.
	Env map[string]string
	// Computed names the environment variables whose values Terraform learns only at apply
	// time (a resource's attribute, or a variable left without a value), in order.
	Computed []string
	// Args are the container's arguments (none when the module sets none).
	Args []string
	// Probes are its health probes by block name (startup_probe, liveness_probe).
	Probes map[string]Probe
}

// CloudRunContainer reads the Terraform module in dir and returns the serving container of its
// google_cloud_run_v2_service, with the module's variables set to vars (HCL expressions by
// variable name, e.g. {"token_secret_id": `"tally-tokens"`}) or else their defaults.
func CloudRunContainer(dir string, vars map[string]string) (*Container, error) {
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	services := cfg.resourcesOf("google_cloud_run_v2_service")
	if len(services) != 1 {
		return nil, fmt.Errorf("%s has %d google_cloud_run_v2_service resources, want 1", dir, len(services))
	}
	svc := services[0]
	if _, ok := svc.block.Body.Attributes["count"]; ok {
		return nil, fmt.Errorf("%s: the service has count; CloudRunContainer reads a single service", svc)
	}
	e, err := newEvaluator(cfg, vars)
	if err != nil {
		return nil, err
	}
	templates := blocksOf(svc.block.Body, "template")
	if len(templates) != 1 {
		return nil, fmt.Errorf("%s has %d template blocks, want 1", svc, len(templates))
	}
	var serving []*hclsyntax.Block
	for _, c := range blocksOf(templates[0].Body, "containers") {
		if len(blocksOf(c.Body, "ports")) > 0 {
			serving = append(serving, c)
		}
	}
	if len(serving) != 1 {
		return nil, fmt.Errorf("%s has %d containers with ports, want exactly 1 (the one Cloud Run sends calls to)", svc, len(serving))
	}
	return e.container(serving[0])
}

func (e *evaluator) container(b *hclsyntax.Block) (*Container, error) {
	c := &Container{Env: map[string]string{}}
	if attr, ok := b.Body.Attributes["name"]; ok {
		v, err := e.value(attr.Expr, nil)
		if err != nil || !v.IsKnown() || v.Type() != cty.String {
			return nil, fmt.Errorf("%s: the container's name is not a known string", attr.SrcRange)
		}
		c.Name = v.AsString()
	}
	if attr, ok := b.Body.Attributes["args"]; ok {
		v, err := e.value(attr.Expr, nil)
		if err != nil {
			return nil, fmt.Errorf("args: %w", err)
		}
		if !v.IsWhollyKnown() || !v.CanIterateElements() {
			return nil, fmt.Errorf("%s: args are not a known list", attr.SrcRange)
		}
		for _, a := range v.AsValueSlice() {
			if a.IsNull() || a.Type() != cty.String {
				return nil, fmt.Errorf("%s: an argument is not a string", attr.SrcRange)
			}
			c.Args = append(c.Args, a.AsString())
		}
	}
	computed := map[string]bool{}
	set := func(rng hcl.Range, name, value cty.Value) error {
		if !name.IsKnown() || name.IsNull() || name.Type() != cty.String {
			return fmt.Errorf("%s: an env name is not a known string", rng)
		}
		n := name.AsString()
		if _, dup := c.Env[n]; dup || computed[n] {
			return fmt.Errorf("%s: env %s is set twice", rng, n)
		}
		switch {
		case !value.IsKnown():
			computed[n] = true
		case value.IsNull():
			return fmt.Errorf("%s: env %s has a null value", rng, n)
		default:
			s, err := asString(value)
			if err != nil {
				return fmt.Errorf("%s: env %s: %w", rng, n, err)
			}
			c.Env[n] = s
		}
		return nil
	}
	for _, env := range b.Body.Blocks {
		switch {
		case env.Type == "env":
			name, value, err := e.envBlock(env.Body, nil)
			if err != nil {
				return nil, err
			}
			if err := set(env.DefRange(), name, value); err != nil {
				return nil, err
			}
		case env.Type == "dynamic" && len(env.Labels) == 1 && env.Labels[0] == "env":
			if err := e.dynamicEnv(env, set); err != nil {
				return nil, err
			}
		}
	}
	for n := range computed {
		c.Computed = append(c.Computed, n)
	}
	sort.Strings(c.Computed)
	probes, err := e.probes(b)
	if err != nil {
		return nil, err
	}
	c.Probes = probes
	return c, nil
}

// envBlock evaluates an env block's name and value; a value from a secret (value_source) is
// reported as computed.
func (e *evaluator) envBlock(body *hclsyntax.Body, extra map[string]cty.Value) (name, value cty.Value, err error) {
	attr, ok := body.Attributes["name"]
	if !ok {
		return cty.NilVal, cty.NilVal, fmt.Errorf("%s: env block without a name", body.SrcRange)
	}
	if name, err = e.value(attr.Expr, extra); err != nil {
		return cty.NilVal, cty.NilVal, err
	}
	value = cty.UnknownVal(cty.String)
	if attr, ok := body.Attributes["value"]; ok {
		if value, err = e.value(attr.Expr, extra); err != nil {
			return cty.NilVal, cty.NilVal, err
		}
	}
	return name, value, nil
}

// dynamicEnv expands a dynamic "env" block as Terraform does: one env per element of for_each,
// with the iterator (named by iterator, else "env") holding key and value.
func (e *evaluator) dynamicEnv(b *hclsyntax.Block, set func(hcl.Range, cty.Value, cty.Value) error) error {
	forEach, ok := b.Body.Attributes["for_each"]
	if !ok {
		return fmt.Errorf("%s: dynamic block without for_each", b.DefRange())
	}
	iterator := "env"
	if attr, ok := b.Body.Attributes["iterator"]; ok {
		iterator = hcl.ExprAsKeyword(attr.Expr)
		if iterator == "" {
			return fmt.Errorf("%s: iterator must be a name", attr.SrcRange)
		}
	}
	contents := blocksOf(b.Body, "content")
	if len(contents) != 1 {
		return fmt.Errorf("%s: dynamic block with %d content blocks, want 1", b.DefRange(), len(contents))
	}
	coll, err := e.value(forEach.Expr, nil)
	if err != nil {
		return fmt.Errorf("for_each of dynamic env: %w", err)
	}
	if !coll.IsKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return fmt.Errorf("%s: the for_each of dynamic env is not known at plan time", forEach.SrcRange)
	}
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		extra := map[string]cty.Value{iterator: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		name, value, err := e.envBlock(contents[0].Body, extra)
		if err != nil {
			return err
		}
		if err := set(contents[0].DefRange(), name, value); err != nil {
			return err
		}
	}
	return nil
}

// asString converts a known primitive to the string Terraform would send.
func asString(v cty.Value) (string, error) {
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	return "", fmt.Errorf("a %s is not a string", v.Type().FriendlyName())
}
