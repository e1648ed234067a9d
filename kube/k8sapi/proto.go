package k8sapi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Pods come from the API server as protobuf, as client-go asked for them:
// encoding a Pod (with its managedFields) as JSON costs the API server,
// which shares the machine with the worker in small clusters, some 15%
// more CPU per Pod (bench/RESULTS.md), and decoding it costs sluice more.
// Only the fields of Pod, PodList, Status and WatchEvent that sluice
// reads are decoded; the rest is skipped. The field numbers are
// k8s.io/api's (core/v1/generated.proto); TestProtoMatchesK8sAPI checks
// them against its generated code.

// ProtobufType is the media type of the API's protobuf encoding.
const ProtobufType = "application/vnd.kubernetes.protobuf"

// protoMagic starts every protobuf object the API server writes.
var protoMagic = []byte("k8s\x00")

// ErrNotProtobuf is returned for data without the protobuf envelope.
var ErrNotProtobuf = errors.New("k8sapi: not a protobuf object (no k8s\\x00 prefix)")

// Unwrap reads the envelope of a protobuf object (its runtime.Unknown):
// its kind and its encoded value.
func Unwrap(b []byte) (kind string, raw []byte, err error) {
	if !bytes.HasPrefix(b, protoMagic) {
		return "", nil, ErrNotProtobuf
	}
	err = fields(b[len(protoMagic):], func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1: // typeMeta
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				if num == 2 {
					kind = string(v)
				}
				return nil
			})
		case 2:
			raw = v
		}
		return nil
	})
	return kind, raw, err
}

// DecodePod decodes a Pod in its envelope.
func DecodePod(b []byte, p *Pod) error {
	kind, raw, err := Unwrap(b)
	if err != nil {
		return err
	}
	if kind != "Pod" {
		return fmt.Errorf("k8sapi: a %s, not a Pod", kind)
	}
	return decodePod(raw, p)
}

// DecodePodList decodes a PodList in its envelope.
func DecodePodList(b []byte, l *PodList) error {
	kind, raw, err := Unwrap(b)
	if err != nil {
		return err
	}
	if kind != "PodList" {
		return fmt.Errorf("k8sapi: a %s, not a PodList", kind)
	}
	return fields(raw, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				switch num {
				case 2:
					l.Metadata.ResourceVersion = string(v)
				case 3:
					l.Metadata.Continue = string(v)
				}
				return nil
			})
		case 2:
			l.Items = append(l.Items, Pod{})
			return decodePod(v, &l.Items[len(l.Items)-1])
		}
		return nil
	})
}

// DecodeStatus decodes a Status in its envelope.
func DecodeStatus(b []byte, st *Status) error {
	kind, raw, err := Unwrap(b)
	if err != nil {
		return err
	}
	if kind != "Status" {
		return fmt.Errorf("k8sapi: a %s, not a Status", kind)
	}
	return decodeStatus(raw, st)
}

func decodeStatus(b []byte, st *Status) error {
	st.Kind = "Status"
	return fields(b, func(num protowire.Number, v []byte, n uint64) error {
		switch num {
		case 2:
			st.Status = string(v)
		case 3:
			st.Message = string(v)
		case 4:
			st.Reason = string(v)
		case 6:
			st.Code = int32(n)
		}
		return nil
	})
}

// ReadWatchEvent reads one event of a watch sent as protobuf (its media
// type's stream=watch): a 4-byte length, then a metav1.WatchEvent without
// an envelope whose object has one. The event's object is a Pod, or a
// Status for type ERROR.
func ReadWatchEvent(r io.Reader, buf []byte) (typ string, pod *Pod, st *Status, _ []byte, err error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return "", nil, nil, buf, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 64<<20 {
		return "", nil, nil, buf, fmt.Errorf("k8sapi: a watch event of %d bytes", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", nil, nil, buf, err
	}
	var object []byte
	err = fields(buf, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			typ = string(v)
		case 2: // RawExtension
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				if num == 1 {
					object = v
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, buf, err
	}
	kind, raw, err := Unwrap(object)
	if err != nil {
		return "", nil, nil, buf, err
	}
	if kind == "Status" {
		st = &Status{}
		return typ, nil, st, buf, decodeStatus(raw, st)
	}
	pod = &Pod{}
	return typ, pod, nil, buf, decodePod(raw, pod)
}

func decodePod(b []byte, p *Pod) error {
	return fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			return decodeObjectMeta(v, &p.Metadata)
		case 2:
			return decodePodSpec(v, &p.Spec)
		case 3:
			return decodePodStatus(v, &p.Status)
		}
		return nil
	})
}

func decodeObjectMeta(b []byte, m *ObjectMeta) error {
	return fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			m.Name = string(v)
		case 3:
			m.Namespace = string(v)
		case 6:
			m.ResourceVersion = string(v)
		case 9:
			t, err := decodeTime(v)
			m.DeletionTimestamp = &t
			return err
		case 11:
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			return decodeMapEntry(v, m.Labels, false)
		case 12:
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			return decodeMapEntry(v, m.Annotations, false)
		}
		return nil
	})
}

func decodeTime(b []byte) (time.Time, error) {
	var secs, nanos int64
	err := fields(b, func(num protowire.Number, _ []byte, n uint64) error {
		switch num {
		case 1:
			secs = int64(n)
		case 2:
			nanos = int64(int32(n))
		}
		return nil
	})
	return time.Unix(secs, nanos).UTC(), err
}

// decodeMapEntry reads one entry of a map<string, string> (quantity: of
// a map<string, Quantity>, whose value is a message of one string).
func decodeMapEntry(b []byte, m map[string]string, quantity bool) error {
	var key, value string
	err := fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			key = string(v)
		case 2:
			if !quantity {
				value = string(v)
				return nil
			}
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				if num == 1 {
					value = string(v)
				}
				return nil
			})
		}
		return nil
	})
	m[key] = value
	return err
}

func decodePodSpec(b []byte, s *PodSpec) error {
	return fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 2:
			s.Containers = append(s.Containers, Container{})
			c := &s.Containers[len(s.Containers)-1]
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				switch num {
				case 1:
					c.Name = string(v)
				case 8:
					c.Resources = &ResourceRequirements{}
					return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
						switch num {
						case 1:
							if c.Resources.Limits == nil {
								c.Resources.Limits = map[string]string{}
							}
							return decodeMapEntry(v, c.Resources.Limits, true)
						case 2:
							if c.Resources.Requests == nil {
								c.Resources.Requests = map[string]string{}
							}
							return decodeMapEntry(v, c.Resources.Requests, true)
						}
						return nil
					})
				}
				return nil
			})
		case 10:
			s.NodeName = string(v)
		}
		return nil
	})
}

func decodePodStatus(b []byte, s *PodStatus) error {
	return fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			s.Phase = string(v)
		case 2:
			var c PodCondition
			err := fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				switch num {
				case 1:
					c.Type = string(v)
				case 2:
					c.Status = string(v)
				case 5:
					c.Reason = string(v)
				case 6:
					c.Message = string(v)
				}
				return nil
			})
			s.Conditions = append(s.Conditions, c)
			return err
		case 3:
			s.Message = string(v)
		case 4:
			s.Reason = string(v)
		case 8:
			var cs ContainerStatus
			err := fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				switch num {
				case 1:
					cs.Name = string(v)
				case 2:
					return decodeContainerState(v, &cs.State)
				}
				return nil
			})
			s.ContainerStatuses = append(s.ContainerStatuses, cs)
			return err
		}
		return nil
	})
}

func decodeContainerState(b []byte, st *ContainerState) error {
	return fields(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			st.Waiting = &ContainerStateWaiting{}
			return fields(v, func(num protowire.Number, v []byte, _ uint64) error {
				switch num {
				case 1:
					st.Waiting.Reason = string(v)
				case 2:
					st.Waiting.Message = string(v)
				}
				return nil
			})
		case 2:
			st.Running = &ContainerStateRunning{}
		case 3:
			st.Terminated = &ContainerStateTerminated{}
			return fields(v, func(num protowire.Number, v []byte, n uint64) error {
				switch num {
				case 1:
					st.Terminated.ExitCode = int32(n)
				case 3:
					st.Terminated.Reason = string(v)
				case 4:
					st.Terminated.Message = string(v)
				}
				return nil
			})
		}
		return nil
	})
}

// fields calls f for each field of the protobuf message b: with its bytes
// for a length-delimited field, its value for a varint.
func fields(b []byte, f func(num protowire.Number, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if err := f(num, v, 0); err != nil {
				return err
			}
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if err := f(num, nil, v); err != nil {
				return err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return nil
}
