package k8sapi

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Quantity is a resource quantity ("500m", "1Gi", "2e3") as Kubernetes
// reads it (k8s.io/apimachinery/pkg/api/resource), in its exact value:
// Value × 10^Scale. It is written here, not imported, because that
// package links a CBOR codec whose init sluice would pay in every process;
// TestQuantityMatchesAPIMachinery checks it against the real one.
type Quantity struct {
	value  *big.Int
	scale  int32 // value × 10^scale
	format quantityFormat
	// s is the text it was read from, kept where the API keeps it (see
	// ParseQuantity); String returns it.
	s string
}

type quantityFormat int

const (
	decimalExponent quantityFormat = iota // 12e6
	binarySI                              // 12Mi
	decimalSI                             // 12M
)

// ErrQuantity is returned by ParseQuantity for text that is not a
// quantity.
var ErrQuantity = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

// ParseQuantity reads a quantity as the API server does, rounding up what
// is finer than a billionth (1n).
func ParseQuantity(s string) (Quantity, error) {
	if s == "" {
		return Quantity{}, ErrQuantity
	}
	if s == "0" {
		return Quantity{value: new(big.Int), format: decimalSI}, nil
	}
	positive, num, denom, suf, err := splitQuantity(s)
	if err != nil {
		return Quantity{}, err
	}
	base, exp, format, ok := interpretSuffix(suf)
	if !ok {
		return Quantity{}, ErrQuantity
	}
	cached := keepsText(s, num, denom, base, exp, format)
	v, ok := new(big.Int).SetString(num+denom, 10)
	if !ok {
		return Quantity{}, ErrQuantity
	}
	scale := -int32(len(denom))
	if base == 10 {
		scale += exp
	} else {
		v.Lsh(v, uint(exp))
	}
	// Round up (away from zero) to nano, as the API does.
	if scale < -9 {
		d := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-9-scale)), nil)
		q, r := new(big.Int).QuoRem(v, d, new(big.Int))
		if r.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		v, scale = q, -9
	}
	q := Quantity{value: v, scale: scale, format: format}
	if format == binarySI {
		if q.Cmp(maxInt64Quantity) > 0 {
			q = Quantity{value: big.NewInt(1<<63 - 1), format: binarySI}
		}
		if v.Sign() > 0 && q.Cmp(oneQuantity) < 0 {
			q.format = decimalSI
		}
	}
	if !positive {
		q.value.Neg(q.value)
	}
	if cached {
		q.s = s
	}
	return q, nil
}

// keepsText reports whether the API's ParseQuantity keeps the text it
// read as the quantity's String: on its fast path (the value fits an
// int64 of nanos), when the text looks canonical by its cheap test. It
// keeps texts such as "+1", "1E3" and "743.947m", which the canonical
// form would write otherwise; sluice must store what the API writes.
func keepsText(s, num, denom string, base, exp int32, format quantityFormat) bool {
	precision := int32(0)
	mantissa := int64(1)
	scale := int32(0)
	switch format {
	case decimalExponent, decimalSI:
		scale = exp
		precision = 18 - int32(len(num)+len(denom))
	case binarySI:
		if exp >= 0 && len(denom) == 0 {
			mantissa = 1 << uint64(exp)
			precision = 15 - int32(len(num)) - int32(float32(exp)*3/10) - 1
		} else {
			precision = -1
		}
	}
	if precision < 0 {
		return false
	}
	scale -= int32(len(denom))
	if scale < -9 {
		return false
	}
	shifted := num + denom
	value, err := strconv.ParseInt(shifted, 10, 64)
	if err != nil {
		return false
	}
	if value != 0 && mantissa != 1 && value != 1 { // the API's int64Multiply
		if value == math.MinInt64 || mantissa == math.MinInt64 || (value*mantissa)/mantissa != value {
			return false
		}
	}
	if format == binarySI {
		return exp%10 == 0 && value&0x07 != 0
	}
	return scale%3 == 0 && !strings.HasSuffix(shifted, "000") && shifted[0] != '0'
}

var (
	maxInt64Quantity = Quantity{value: big.NewInt(1<<63 - 1)}
	oneQuantity      = Quantity{value: big.NewInt(1)}
)

// NewMilliQuantity is v thousandths, written with decimal suffixes.
func NewMilliQuantity(v int64) Quantity {
	return Quantity{value: big.NewInt(v), scale: -3, format: decimalSI}
}

// NewBinaryQuantity is v, written with binary suffixes (Ki, Mi, …).
func NewBinaryQuantity(v int64) Quantity {
	return Quantity{value: big.NewInt(v), format: binarySI}
}

// Sign is -1, 0 or +1.
func (q Quantity) Sign() int {
	if q.value == nil {
		return 0
	}
	return q.value.Sign()
}

// Cmp compares q with o: -1, 0 or +1.
func (q Quantity) Cmp(o Quantity) int {
	a, b := q.big(), o.big()
	sa, sb := q.scale, o.scale
	if sa > sb {
		a = new(big.Int).Mul(a, pow10(sa-sb))
		sa = sb
	} else if sb > sa {
		b = new(big.Int).Mul(b, pow10(sb-sa))
	}
	return a.Cmp(b)
}

func (q Quantity) big() *big.Int {
	if q.value == nil {
		return new(big.Int)
	}
	return q.value
}

func pow10(n int32) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// String is the canonical form the API server writes: "0.5" is "500m",
// "1024Mi" is "1Gi".
func (q Quantity) String() string {
	if q.s != "" {
		return q.s
	}
	if q.Sign() == 0 {
		return "0"
	}
	format := q.format
	var whole *big.Int
	if format == binarySI {
		k := Quantity{value: big.NewInt(1024)}
		negK := Quantity{value: big.NewInt(-1024)}
		switch {
		case q.Cmp(negK) > 0 && q.Cmp(k) < 0:
			format = decimalSI // as the API does, to avoid rounding
		case q.scale >= 0:
			whole = new(big.Int).Mul(q.value, pow10(q.scale))
		default:
			quo, rem := new(big.Int).QuoRem(q.value, pow10(-q.scale), new(big.Int))
			if rem.Sign() != 0 {
				format = decimalSI // not whole: no precision lost
			} else {
				whole = quo
			}
		}
	}
	if format == binarySI {
		exp := 0
		abs := new(big.Int).Abs(whole)
		k := big.NewInt(1024)
		for abs.Cmp(k) >= 0 && new(big.Int).Rem(abs, k).Sign() == 0 {
			abs.Quo(abs, k)
			exp++
		}
		if whole.Sign() < 0 {
			abs.Neg(abs)
		}
		return abs.String() + binSuffix(exp)
	}
	// Decimal: all factors of ten into the exponent, then the exponent
	// down to a multiple of three.
	m := new(big.Int).Set(q.value)
	exp := q.scale
	ten := big.NewInt(10)
	for {
		quo, rem := new(big.Int).QuoRem(m, ten, new(big.Int))
		if rem.Sign() != 0 || m.CmpAbs(ten) < 0 {
			break
		}
		m, exp = quo, exp+1
	}
	for exp%3 != 0 {
		m.Mul(m, ten)
		exp--
	}
	return m.String() + decSuffix(exp, format)
}

func binSuffix(exp int) string {
	if exp < 0 || exp > 6 {
		return ""
	}
	return [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}[exp]
}

func decSuffix(exp int32, format quantityFormat) string {
	if format == decimalExponent {
		if exp == 0 {
			return ""
		}
		return "e" + strconv.Itoa(int(exp))
	}
	switch exp {
	case -9:
		return "n"
	case -6:
		return "u"
	case -3:
		return "m"
	case 3:
		return "k"
	case 6:
		return "M"
	case 9:
		return "G"
	case 12:
		return "T"
	case 15:
		return "P"
	case 18:
		return "E"
	}
	return "" // as the API does: a DecimalSI exponent without a suffix loses it
}

func interpretSuffix(s string) (base, exp int32, format quantityFormat, ok bool) {
	switch s {
	case "":
		return 10, 0, decimalSI, true
	case "n":
		return 10, -9, decimalSI, true
	case "u":
		return 10, -6, decimalSI, true
	case "m":
		return 10, -3, decimalSI, true
	case "k":
		return 10, 3, decimalSI, true
	case "M":
		return 10, 6, decimalSI, true
	case "G":
		return 10, 9, decimalSI, true
	case "T":
		return 10, 12, decimalSI, true
	case "P":
		return 10, 15, decimalSI, true
	case "E":
		return 10, 18, decimalSI, true
	case "Ki":
		return 2, 10, binarySI, true
	case "Mi":
		return 2, 20, binarySI, true
	case "Gi":
		return 2, 30, binarySI, true
	case "Ti":
		return 2, 40, binarySI, true
	case "Pi":
		return 2, 50, binarySI, true
	case "Ei":
		return 2, 60, binarySI, true
	}
	if len(s) > 1 && (s[0] == 'E' || s[0] == 'e') {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return 0, 0, decimalExponent, false
		}
		return 10, int32(n), decimalExponent, true
	}
	return 0, 0, decimalExponent, false
}

// splitQuantity is the API's parseQuantityString: sign, whole digits
// (leading zeros dropped), fraction digits and suffix.
func splitQuantity(str string) (positive bool, num, denom, suffix string, err error) {
	positive = true
	pos, end := 0, len(str)
	if pos < end {
		switch str[0] {
		case '-':
			positive = false
			pos++
		case '+':
			pos++
		}
	}
	for ; ; pos++ {
		if pos >= end {
			return positive, "0", "", "", nil
		}
		if str[pos] != '0' {
			break
		}
	}
	i := pos
	for i < end && str[i] >= '0' && str[i] <= '9' {
		i++
	}
	num, pos = str[pos:i], i
	if pos >= end {
		return positive, orZero(num), "", "", nil
	}
	num = orZero(num)
	if str[pos] == '.' {
		pos++
		i := pos
		for i < end && str[i] >= '0' && str[i] <= '9' {
			i++
		}
		denom, pos = str[pos:i], i
		if pos >= end {
			return positive, num, denom, "", nil
		}
	}
	start := pos
	for i := pos; ; i++ {
		if i >= end {
			return positive, num, denom, str[start:end], nil
		}
		if !strings.ContainsAny(str[i:i+1], "eEinumkKMGTP") {
			pos = i
			break
		}
	}
	if pos < end && (str[pos] == '-' || str[pos] == '+') {
		pos++
	}
	for i := pos; ; i++ {
		if i >= end {
			return positive, num, denom, str[start:end], nil
		}
		if str[i] < '0' || str[i] > '9' {
			return positive, "", "", "", ErrQuantity
		}
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
