package jwks

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"
)

// fileState is what polling remembers about a JWKS file.
type fileState struct {
	seen     bool
	modTime  time.Time
	size     int64
	sum      [32]byte // SHA-256 of the content last read
	applyErr error    // why that content was not applied; nil when it was
	statErr  string   // why the last look at the file failed; "" when it did not
}

// readFile polls the JWKS file. The content is read only when its
// modification time or size changed (or on an explicit Refresh), and is
// returned for parsing only when its hash changed too, so touching the file
// is not a change. An unchanged file repeats the previous outcome: not
// modified when its content was applied, the same error when it was not;
// as nothing was read, that repetition is marked polled and not counted as
// a fetch. So is a file that stays missing the same way.
func (s *Source) readFile(force bool) fetchResult {
	path := s.opts.File
	fail := func(err error) fetchResult {
		return fetchResult{err: fmt.Errorf("read jwks file %s: %w", path, err)}
	}
	info, err := os.Stat(path)
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file")
	}
	if err != nil {
		res := fail(err)
		res.polled = !force && err.Error() == s.file.statErr
		s.file.statErr = err.Error()
		return res
	}
	s.file.statErr = ""
	if !force && s.file.seen && info.ModTime().Equal(s.file.modTime) && info.Size() == s.file.size {
		res := s.unchangedFile()
		res.polled = true
		return res
	}

	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocumentBytes+1))
	if err != nil {
		return fail(err)
	}
	if len(data) > maxDocumentBytes {
		return fail(fmt.Errorf("file exceeds %d bytes", maxDocumentBytes))
	}
	sum := sha256.Sum256(data)
	unchanged := s.file.seen && sum == s.file.sum
	s.file = fileState{seen: true, modTime: info.ModTime(), size: info.Size(), sum: sum, applyErr: s.file.applyErr}
	if unchanged && !force {
		return s.unchangedFile()
	}
	return fetchResult{body: data}
}

// unchangedFile repeats the outcome of the content last read: not
// modified when it was applied, else its error again, so that a bad file is
// logged once but keeps failing (and does not renew freshness).
func (s *Source) unchangedFile() fetchResult {
	if s.file.applyErr != nil {
		return fetchResult{err: s.file.applyErr}
	}
	return fetchResult{notModified: true}
}
