package token_test

import (
	"encoding/base64"
	"strconv"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
