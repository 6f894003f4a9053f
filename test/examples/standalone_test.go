package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsStandAlone: no file of the repository points at documents that are
// not in it. The names are split so that this file does not match itself.
func TestDocsStandAlone(t *testing.T) {
	banned := []string{"SPEC" + ".md", "STYLE" + ".md", "../" + "shared"}
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "data":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".json", ".tpl", ".txt", ".sh", "":
		default:
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 1<<20 || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range banned {
			if strings.Contains(string(b), s) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s mentions %s, which is not in the repository: point at CONFIGURATION.md or docs/", rel, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
