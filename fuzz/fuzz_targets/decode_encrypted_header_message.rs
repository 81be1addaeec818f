#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cliquet_fuzz::checks::decode_encrypted_header_message(data);
});
