package terraform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestFormatted fails on what `terraform fmt` would rewrite in the repository's Terraform files,
// so that go test catches it where the CLI is not installed (.ci/run also runs the real
// `terraform fmt -check -recursive terraform`). terraform fmt is hclwrite's formatting plus its
// own rewrites of legacy syntax, which formatProblems looks for too.
func TestFormatted(t *testing.T) {
	paths, err := formatFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(paths, func(p string) bool { return strings.HasSuffix(p, ".tfvars.example") }) {
		t.Errorf("formatFiles found no .tfvars.example among %q", paths)
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range formatProblems(path, src) {
			t.Errorf("%s (run terraform fmt -recursive terraform)", p)
		}
	}
}

// formatFiles lists the files under root that terraform fmt -recursive formats (.tf and
// .tfvars), and the .tfvars.example files, which become .tfvars when copied. Hidden
// directories (.terraform) are skipped, as Terraform skips them.
func formatFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		for _, ext := range []string{".tf", ".tfvars", ".tfvars.example"} {
			if strings.HasSuffix(path, ext) {
				out = append(out, path)
				break
			}
		}
		return nil
	})
	return out, err
}

// formatProblems reports what terraform fmt would change in src: hclwrite's layout (spacing,
// alignment, indentation), and the legacy forms it rewrites: an argument that is a string of
// one interpolation only ("${var.x}" becomes var.x), a variable type in quotes (type =
// "string") or a collection type without its element type (list, map, set become list(any),
// ...), and block labels without quotes.
func formatProblems(name string, src []byte) []string {
	var out []string
	if !bytes.Equal(hclwrite.Format(src), src) {
		out = append(out, fmt.Sprintf("%s: spacing, alignment or indentation differs from terraform fmt's", name))
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return append(out, diags.Error())
	}
	var visit func(body *hclsyntax.Body, blockType string)
	visit = func(body *hclsyntax.Body, blockType string) {
		for attrName, a := range body.Attributes {
			if blockType == "variable" && attrName == "type" {
				switch e := a.Expr.(type) {
				case *hclsyntax.TemplateExpr:
					out = append(out, fmt.Sprintf("%s: a type in quotes, the syntax of Terraform 0.11", e.SrcRange))
				case *hclsyntax.ScopeTraversalExpr:
					if kw := hcl.ExprAsKeyword(e); kw == "list" || kw == "map" || kw == "set" {
						out = append(out, fmt.Sprintf("%s: %s without an element type; write %s(any) or %s(string)", e.SrcRange, kw, kw, kw))
					}
				}
				continue
			}
			if e, ok := a.Expr.(*hclsyntax.TemplateWrapExpr); ok {
				out = append(out, fmt.Sprintf("%s: a string of one interpolation only; write the expression without \"${ }\"", e.SrcRange))
			}
		}
		for _, b := range body.Blocks {
			for _, r := range b.LabelRanges {
				if r.Start.Byte < len(src) && src[r.Start.Byte] != '"' {
					out = append(out, fmt.Sprintf("%s: a block label without quotes", r))
				}
			}
			// terraform fmt treats a type as a type constraint only in a top-level variable block.
			inner := b.Type
			if blockType != "" {
				inner = blockType + "." + b.Type
			}
			visit(b.Body, inner)
		}
	}
	visit(f.Body.(*hclsyntax.Body), "")
	return out
}

// TestFormatCheckFails gives formatProblems and formatFiles each mistake they look for, and
// code terraform fmt leaves alone.
func TestFormatCheckFails(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"misaligned", "variable \"v\" {\n  type = string\n  description=\"d\"\n}\n", "alignment"},
		{"interpolation only", "locals {\n  x = \"${var.y}\"\n}\n", "one interpolation only"},
		{"interpolation only in a nested block", "resource \"a\" \"b\" {\n  c {\n    d = \"${var.y}\"\n  }\n}\n", "one interpolation only"},
		{"interpolation only in a .tfvars file", "x = \"${upper(\"a\")}\"\n", "one interpolation only"},
		{"quoted type", "variable \"v\" {\n  type = \"string\"\n}\n", "type in quotes"},
		{"quoted list type", "variable \"v\" {\n  type = \"list\"\n}\n", "type in quotes"},
		{"bare list", "variable \"v\" {\n  type = list\n}\n", "list without an element type"},
		{"bare map", "variable \"v\" {\n  type = map\n}\n", "map without an element type"},
		{"bare set", "variable \"v\" {\n  type = set\n}\n", "set without an element type"},
		{"unquoted label", "variable v {\n  type = string\n}\n", "label without quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := formatProblems("main.tf", []byte(tt.src))
			if !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Errorf("no problem containing %q in %q", tt.want, problems)
			}
		})
	}

	// What terraform fmt leaves as it is.
	const fine = `variable "v" {
  type    = list(any)
  default = ["${var.a}"]
}

variable "m" {
  type = map(string)
}

locals {
  a    = "${var.x}-${var.y}"
  b    = "x${var.y}"
  type = "string"
}

resource "google_service_account" "sa" {
  account_id = "${var.name}-run"
  type       = map
}
`
	if p := formatProblems("main.tf", []byte(fine)); len(p) > 0 {
		t.Errorf("formatted code reported: %q", p)
	}

	dir := t.TempDir()
	for _, name := range []string{"main.tf", "terraform.tfvars", "x.tfvars.example", "README.md", "main.tf.json", filepath.Join(".terraform", "m.tf"), filepath.Join("sub", "s.tf")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := formatFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i], _ = filepath.Rel(dir, got[i])
	}
	want := []string{"main.tf", filepath.Join("sub", "s.tf"), "terraform.tfvars", "x.tfvars.example"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("formatFiles found %q, want %q", got, want)
	}
}
