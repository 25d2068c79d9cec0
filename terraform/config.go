package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// config is the .tf files of one Terraform module directory, parsed but not evaluated.
type config struct {
	dir       string
	files     []*file
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources []*resourceBlock // resource and data blocks, in file order
	modules   map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
}

type file struct {
	name string
	body *hclsyntax.Body
}

// resourceBlock is a resource or data block.
type resourceBlock struct {
	data       bool
	typ, name  string
	block      *hclsyntax.Block
	file       string
	checkBlock string // the check block a scoped data source is declared in, or ""
}

func (r *resourceBlock) String() string {
	if r.data {
		return "data." + r.typ + "." + r.name
	}
	return r.typ + "." + r.name
}

// loadConfig parses every .tf file of dir. It fails on a syntax error, an unknown top-level
// block and a name declared twice, as Terraform would.
func loadConfig(dir string) (*config, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(paths)
	c := &config{
		dir:       dir,
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		modules:   map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
	}
	parser := hclparse.NewParser()
	seen := map[string]bool{}
	declare := func(what string, rng hcl.Range) error {
		if seen[what] {
			return fmt.Errorf("%s: %s is declared twice", rng, what)
		}
		seen[what] = true
		return nil
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, diags := parser.ParseHCL(src, path)
		if diags.HasErrors() {
			return nil, diags
		}
		body := f.Body.(*hclsyntax.Body)
		c.files = append(c.files, &file{name: path, body: body})
		for name, attr := range body.Attributes {
			return nil, fmt.Errorf("%s: top-level argument %q: Terraform files hold only blocks", attr.SrcRange, name)
		}
		for _, b := range body.Blocks {
			if err := c.addBlock(b, path, "", declare); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *config) addBlock(b *hclsyntax.Block, path, check string, declare func(string, hcl.Range) error) error {
	labels := func(n int) error {
		if len(b.Labels) != n {
			return fmt.Errorf("%s: a %s block has %d labels, want %d", b.DefRange(), b.Type, len(b.Labels), n)
		}
		return nil
	}
	switch b.Type {
	case "terraform", "locals":
		if err := labels(0); err != nil {
			return err
		}
		for name, attr := range b.Body.Attributes {
			if b.Type == "locals" {
				if err := declare("local."+name, attr.SrcRange); err != nil {
					return err
				}
				c.locals[name] = attr
			}
		}
	case "provider":
		return labels(1)
	case "variable", "output", "module":
		if err := labels(1); err != nil {
			return err
		}
		name := b.Labels[0]
		if err := declare(b.Type+"."+name, b.DefRange()); err != nil {
			return err
		}
		map[string]map[string]*hclsyntax.Block{"variable": c.variables, "output": c.outputs, "module": c.modules}[b.Type][name] = b
	case "resource", "data":
		if err := labels(2); err != nil {
			return err
		}
		r := &resourceBlock{data: b.Type == "data", typ: b.Labels[0], name: b.Labels[1], block: b, file: path, checkBlock: check}
		if err := declare(r.String(), b.DefRange()); err != nil {
			return err
		}
		c.resources = append(c.resources, r)
	case "check":
		if err := labels(1); err != nil {
			return err
		}
		if err := declare("check."+b.Labels[0], b.DefRange()); err != nil {
			return err
		}
		for _, inner := range b.Body.Blocks {
			switch inner.Type {
			case "data":
				if err := c.addBlock(inner, path, b.Labels[0], declare); err != nil {
					return err
				}
			case "assert":
			default:
				return fmt.Errorf("%s: a check block holds data and assert blocks, not %s", inner.DefRange(), inner.Type)
			}
		}
	case "moved", "import", "removed":
		return labels(0)
	default:
		return fmt.Errorf("%s: unknown top-level block %q", b.DefRange(), b.Type)
	}
	return nil
}

// resourcesOf returns the resource blocks (not data) of type typ.
func (c *config) resourcesOf(typ string) []*resourceBlock {
	var out []*resourceBlock
	for _, r := range c.resources {
		if !r.data && r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

// blocksOf returns the nested blocks of body of type typ.
func blocksOf(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}
