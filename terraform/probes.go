package terraform

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Probe is one of a container's health probes as planned.
type Probe struct {
	// Kind is the probe's action block: grpc, http_get or tcp_socket.
	Kind string
	// Port is the port probed; 0 when the probe leaves it to Cloud Run (the container's port).
	Port int
	// Service is the grpc.health.v1 service a gRPC probe asks about; "" for the server as a
	// whole, and for the other kinds.
	Service string
}

// probeBlocks are the probe blocks of a Cloud Run container.
var probeBlocks = []string{"startup_probe", "liveness_probe"}

// probes evaluates the probe blocks of the container b, by block name.
func (e *evaluator) probes(b *hclsyntax.Block) (map[string]Probe, error) {
	out := map[string]Probe{}
	for _, name := range probeBlocks {
		blocks := blocksOf(b.Body, name)
		switch len(blocks) {
		case 0:
			continue
		case 1:
		default:
			return nil, fmt.Errorf("%s: %d %s blocks", b.DefRange(), len(blocks), name)
		}
		actions := blocks[0].Body.Blocks
		if len(actions) != 1 {
			return nil, fmt.Errorf("%s: %s has %d action blocks, want 1", blocks[0].DefRange(), name, len(actions))
		}
		action := actions[0]
		p := Probe{Kind: action.Type}
		if attr, ok := action.Body.Attributes["port"]; ok {
			v, err := e.value(attr.Expr, nil)
			if err != nil {
				return nil, fmt.Errorf("%s port: %w", name, err)
			}
			if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
				return nil, fmt.Errorf("%s: the port of %s is not a known number", attr.SrcRange, name)
			}
			port, acc := v.AsBigFloat().Int64()
			if acc != big.Exact || port < 1 || port > 65535 {
				return nil, fmt.Errorf("%s: the port of %s is not a port number", attr.SrcRange, name)
			}
			p.Port = int(port)
		}
		if attr, ok := action.Body.Attributes["service"]; ok {
			v, err := e.value(attr.Expr, nil)
			if err != nil {
				return nil, fmt.Errorf("%s service: %w", name, err)
			}
			if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
				return nil, fmt.Errorf("%s: the service of %s is not a known string", attr.SrcRange, name)
			}
			p.Service = v.AsString()
		}
		out[name] = p
	}
	return out, nil
}
