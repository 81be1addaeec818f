#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cliquet_fuzz::users::decode_device_list(data);
});
