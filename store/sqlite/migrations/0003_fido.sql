-- Security keys: the registration as an outside WebAuthn verifier needs it.
ALTER TABLE methods ADD COLUMN credential_id BLOB;
ALTER TABLE methods ADD COLUMN public_key BLOB;
ALTER TABLE methods ADD COLUMN aaguid BLOB;
ALTER TABLE methods ADD COLUMN sign_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE methods ADD COLUMN attestation_object BLOB;
ALTER TABLE methods ADD COLUMN client_data BLOB;
ALTER TABLE methods ADD COLUMN attestation_format TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX methods_credential ON methods (credential_id) WHERE credential_id IS NOT NULL;

-- The WebAuthn challenge bytes of a security-key challenge.
ALTER TABLE challenges ADD COLUMN webauthn_challenge BLOB;
