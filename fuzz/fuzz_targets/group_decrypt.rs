#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cliquet_fuzz::group::group_decrypt(data);
});
