export { generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, sign, verify, type KeyPairPem } from "./ed25519.js";
