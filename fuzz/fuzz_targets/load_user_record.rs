#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cliquet_fuzz::users::load_user_record(data);
});
