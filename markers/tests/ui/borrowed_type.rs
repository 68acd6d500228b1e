fn names(list: Vec<&str>) {
    markers::marker!(names, list: Vec<&str> = list.clone());
}

fn main() {
    names(vec!["a"]);
}
