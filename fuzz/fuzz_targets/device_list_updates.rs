#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cliquet_fuzz::users::device_list_updates(data);
});
