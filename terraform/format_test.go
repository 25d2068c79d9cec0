package terraform

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestFormatted runs the formatting `terraform fmt` applies (hclwrite's, which terraform fmt
// builds on) over every .tf file, so that a misformatted file fails `go test` where Terraform is
// not installed. `terraform fmt -check -recursive terraform` remains the full check.
func TestFormatted(t *testing.T) {
	for _, dir := range configDirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !formatted(src) {
				t.Errorf("%s is not formatted: run terraform fmt -recursive terraform", path)
			}
		}
	}
	if formatted([]byte("variable \"v\" {\n  type = string\n  description=\"d\"\n}\n")) {
		t.Error("a misaligned file counts as formatted")
	}
}

func formatted(src []byte) bool { return bytes.Equal(hclwrite.Format(src), src) }
