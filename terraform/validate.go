package terraform

import (
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// VariableErrors reads the Terraform module in dir and checks the variable values in vars (HCL
// expressions by variable name, as for CloudRunContainer) as Terraform does before a plan: each
// must convert to its variable's type, and every condition of the variable's validation blocks
// must hold. It returns one message per refusal: the failing validation's error_message, or
// why the value does not convert. The error is for what would stop Terraform otherwise: a
// module that does not load, or a condition that fails to evaluate rather than to hold.
func VariableErrors(dir string, vars map[string]string) ([]string, error) {
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	return variableErrors(cfg, vars)
}

func variableErrors(cfg *config, vars map[string]string) ([]string, error) {
	for name := range vars {
		if cfg.variables[name] == nil {
			return nil, fmt.Errorf("no variable %q in %s", name, cfg.dir)
		}
	}
	e, err := newEvaluator(cfg, vars)
	var bad *valueError
	if errors.As(err, &bad) {
		// A value of the wrong type (or not an HCL expression at all): Terraform refuses it.
		return []string{err.Error()}, nil
	}
	if err != nil {
		return nil, err // the module's own problem, which refuses no value in particular
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	var refused []string
	for _, name := range names {
		for _, v := range blocksOf(cfg.variables[name].Body, "validation") {
			cond, ok := v.Body.Attributes["condition"]
			if !ok {
				return nil, fmt.Errorf("%s: variable %s: a validation without a condition", v.DefRange(), name)
			}
			holds, err := e.value(cond.Expr, nil)
			if err != nil {
				return nil, fmt.Errorf("variable %s: the condition at %s fails to evaluate for %s: %w", name, cond.SrcRange, vars[name], err)
			}
			if !holds.IsKnown() {
				continue // Terraform checks it at apply time
			}
			if holds.IsNull() || holds.Type() != cty.Bool {
				return nil, fmt.Errorf("variable %s: the condition at %s is not a bool", name, cond.SrcRange)
			}
			if holds.True() {
				continue
			}
			msg := fmt.Sprintf("variable %s: a validation at %s refuses %s", name, cond.SrcRange, vars[name])
			if m, ok := v.Body.Attributes["error_message"]; ok {
				if mv, err := e.value(m.Expr, nil); err == nil && mv.IsKnown() && !mv.IsNull() && mv.Type() == cty.String {
					msg = fmt.Sprintf("variable %s = %s: %s", name, vars[name], mv.AsString())
				}
			}
			refused = append(refused, msg)
		}
	}
	return refused, nil
}
