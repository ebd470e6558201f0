package softkey

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CTAP2 command bytes (first byte of a CTAPHID_CBOR payload).
const (
	cmdMakeCredential    = 0x01
	cmdGetAssertion      = 0x02
	cmdGetInfo           = 0x04
	cmdClientPIN         = 0x06
	cmdReset             = 0x07
	cmdGetNextAssertion  = 0x08
	cmdCredMgmt          = 0x0a
	cmdSelection         = 0x0b
	cmdConfig            = 0x0d
	cmdCredMgmtPreview   = 0x41 // CTAP 2.1 preview; what libfido2 1.12 sends
	maxCBORNestingLevels = 4
)

// Status is a CTAP status code, the first byte of every CTAP2 response. It is
// the error type the authenticator returns internally and the one tests
// compare against.
type Status byte

// CTAP status codes (CTAP 2.1 §8.2) the key emits.
const (
	StatusOK                     Status = 0x00
	StatusInvalidCommand         Status = 0x01
	StatusInvalidParameter       Status = 0x02
	StatusInvalidLength          Status = 0x03
	StatusCBORUnexpectedType     Status = 0x11
	StatusInvalidCBOR            Status = 0x12
	StatusMissingParameter       Status = 0x14
	StatusLimitExceeded          Status = 0x15
	StatusCredentialExcluded     Status = 0x19
	StatusUnsupportedAlg         Status = 0x26
	StatusOperationDenied        Status = 0x27
	StatusKeyStoreFull           Status = 0x28
	StatusUnsupportedOption      Status = 0x2b
	StatusInvalidOption          Status = 0x2c
	StatusKeepaliveCancel        Status = 0x2d
	StatusNoCredentials          Status = 0x2e
	StatusUserActionTimeout      Status = 0x2f
	StatusNotAllowed             Status = 0x30
	StatusPINInvalid             Status = 0x31
	StatusPINBlocked             Status = 0x32
	StatusPINAuthInvalid         Status = 0x33
	StatusPINAuthBlocked         Status = 0x34
	StatusPINNotSet              Status = 0x35
	StatusPUATRequired           Status = 0x36
	StatusPINPolicyViolation     Status = 0x37
	StatusRequestTooLarge        Status = 0x39
	StatusInvalidSubcommand      Status = 0x3e
	StatusUnauthorizedPermission Status = 0x40
	StatusOther                  Status = 0x7f
)

func (s Status) Error() string {
	return fmt.Sprintf("ctap status 0x%02x", byte(s))
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CTAP2EncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  maxCBORNestingLevels,
		MaxArrayElements: 256,
		MaxMapPairs:      256,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// decodeRequest decodes CTAP2 request parameters into v, mapping decoder
// failures to the CTAP status the spec prescribes.
func decodeRequest(data []byte, v any) error {
	if len(data) == 0 {
		// No parameters at all: every field is missing.
		return nil
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		var te *cbor.UnmarshalTypeError
		if errors.As(err, &te) {
			return StatusCBORUnexpectedType
		}
		return StatusInvalidCBOR
	}
	return nil
}

func mustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only the key's own fixed-shape values are marshalled here.
		panic(fmt.Sprintf("softkey: marshal response: %v", err))
	}
	return b
}

type rpEntity struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
}

type userEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
}

type credDescriptor struct {
	Type string `cbor:"type"`
	ID   []byte `cbor:"id"`
}

type credParam struct {
	Type string `cbor:"type"`
	Alg  int64  `cbor:"alg"`
}

// coseKey is an EC2 P-256 COSE_Key: a credential public key (alg ES256) or
// a ClientPIN key-agreement key (alg ECDH-ES+HKDF-256).
type coseKey struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint"`
	Crv int64  `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

const (
	coseKtyEC2        = 2
	coseAlgES256      = -7
	coseAlgECDHHKDF   = -25
	coseCrvP256       = 1
	credTypePublicKey = "public-key"
)

type makeCredentialReq struct {
	ClientDataHash    []byte                     `cbor:"1,keyasint"`
	RP                *rpEntity                  `cbor:"2,keyasint"`
	User              *userEntity                `cbor:"3,keyasint"`
	PubKeyCredParams  []credParam                `cbor:"4,keyasint"`
	ExcludeList       []credDescriptor           `cbor:"5,keyasint"`
	Extensions        map[string]cbor.RawMessage `cbor:"6,keyasint"`
	Options           map[string]bool            `cbor:"7,keyasint"`
	PinUvAuthParam    []byte                     `cbor:"8,keyasint"`
	PinUvAuthProtocol *uint64                    `cbor:"9,keyasint"`
	EnterpriseAtt     *uint64                    `cbor:"10,keyasint"`
}

type getAssertionReq struct {
	RPID              *string                    `cbor:"1,keyasint"`
	ClientDataHash    []byte                     `cbor:"2,keyasint"`
	AllowList         []credDescriptor           `cbor:"3,keyasint"`
	Extensions        map[string]cbor.RawMessage `cbor:"4,keyasint"`
	Options           map[string]bool            `cbor:"5,keyasint"`
	PinUvAuthParam    []byte                     `cbor:"6,keyasint"`
	PinUvAuthProtocol *uint64                    `cbor:"7,keyasint"`
}

type clientPINReq struct {
	PinUvAuthProtocol *uint64  `cbor:"1,keyasint"`
	SubCommand        *uint64  `cbor:"2,keyasint"`
	KeyAgreement      *coseKey `cbor:"3,keyasint"`
	PinUvAuthParam    []byte   `cbor:"4,keyasint"`
	NewPinEnc         []byte   `cbor:"5,keyasint"`
	PinHashEnc        []byte   `cbor:"6,keyasint"`
	Permissions       *uint64  `cbor:"9,keyasint"`
	RPID              *string  `cbor:"10,keyasint"`
}

type credMgmtReq struct {
	SubCommand        *uint64         `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint"`
	PinUvAuthProtocol *uint64         `cbor:"3,keyasint"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint"`
}

type credMgmtParams struct {
	RPIDHash     []byte          `cbor:"1,keyasint"`
	CredentialID *credDescriptor `cbor:"2,keyasint"`
	User         *userEntity     `cbor:"3,keyasint"`
}

type configReq struct {
	SubCommand        *uint64         `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint"`
	PinUvAuthProtocol *uint64         `cbor:"3,keyasint"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint"`
}

type setMinPINLengthParams struct {
	NewMinPINLength   *uint64  `cbor:"1,keyasint"`
	MinPinLengthRPIDs []string `cbor:"2,keyasint"`
	ForceChangePin    *bool    `cbor:"3,keyasint"`
}
